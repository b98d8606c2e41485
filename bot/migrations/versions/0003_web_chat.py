"""web chat: sessions (hashed tokens) and messages that arrive later (community answers)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 10:40:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('web_sessions',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_seen', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    with op.batch_alter_table('web_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_web_sessions_last_seen'), ['last_seen'], unique=False)

    op.create_table('web_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_key', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['session_key'], ['web_sessions.key'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('web_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_web_messages_session_key'), ['session_key'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('web_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_web_messages_session_key'))
    op.drop_table('web_messages')
    with op.batch_alter_table('web_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_web_sessions_last_seen'))
    op.drop_table('web_sessions')
