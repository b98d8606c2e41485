"""handoff: a citizen's conversation handed to a community team member (issue 16): the hand-offs
and their messages (stored redacted; the bot's messages in the team's group map replies back)

Revision ID: 0006
Revises: 0005_reports
Create Date: 2026-12-12 09:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005_reports'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('handoffs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_activity', sa.DateTime(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('user_key', sa.String(length=64), nullable=False),
    sa.Column('chat_id', sa.String(length=128), nullable=True),
    sa.Column('commune', sa.String(length=16), nullable=True),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('taken_by', sa.BigInteger(), nullable=True),
    sa.Column('taken_name', sa.String(length=128), nullable=True),
    sa.Column('taken_at', sa.DateTime(), nullable=True),
    sa.Column('first_reply_at', sa.DateTime(), nullable=True),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.Column('closed_by', sa.String(length=16), nullable=True),
    sa.Column('faq_id', sa.String(length=128), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_handoffs_created_at', 'handoffs', ['created_at'])
    op.create_index('ix_handoffs_last_activity', 'handoffs', ['last_activity'])
    op.create_index('ix_handoffs_status', 'handoffs', ['status'])
    op.create_index('ix_handoffs_user_key', 'handoffs', ['user_key'])
    op.create_table('handoff_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('handoff_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('direction', sa.String(length=8), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('author', sa.BigInteger(), nullable=True),
    sa.Column('outcome', sa.String(length=8), nullable=False),
    sa.Column('pending', sa.Text(), nullable=True),
    sa.Column('group_chat_id', sa.BigInteger(), nullable=True),
    sa.Column('group_message_id', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['handoff_id'], ['handoffs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_handoff_messages_handoff_id', 'handoff_messages', ['handoff_id'])
    op.create_index('ix_handoff_messages_group', 'handoff_messages', ['group_chat_id', 'group_message_id'])


def downgrade() -> None:
    op.drop_index('ix_handoff_messages_group', table_name='handoff_messages')
    op.drop_index('ix_handoff_messages_handoff_id', table_name='handoff_messages')
    op.drop_table('handoff_messages')
    for name in ('user_key', 'status', 'last_activity', 'created_at'):
        op.drop_index(f'ix_handoffs_{name}', table_name='handoffs')
    op.drop_table('handoffs')
