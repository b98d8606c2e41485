"""bulletins: subscribers (chat id + hashed user id), bulletins, one delivery row per
(bulletin, subscriber)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 11:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('subscribers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('user_key', sa.String(length=64), nullable=False),
    sa.Column('chat_id', sa.String(length=128), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('channel', 'user_key', name='uq_subscriber')
    )
    op.create_index('ix_subscribers_status', 'subscribers', ['status'])
    op.create_index('ix_subscribers_updated_at', 'subscribers', ['updated_at'])
    op.create_table('bulletins',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('topic', sa.String(length=64), nullable=False),
    sa.Column('audience', sa.JSON(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('send_at', sa.DateTime(), nullable=True),
    sa.Column('expires', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('lease_owner', sa.String(length=128), nullable=True),
    sa.Column('lease_until', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bulletin_id', sa.String(length=64), nullable=False),
    sa.Column('subscriber_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('claimed_by', sa.String(length=128), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('problem', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['bulletin_id'], ['bulletins.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('bulletin_id', 'subscriber_id', name='uq_delivery')
    )
    op.create_index('ix_deliveries_bulletin_id', 'deliveries', ['bulletin_id'])
    op.create_index('ix_deliveries_subscriber_id', 'deliveries', ['subscriber_id'])
    op.create_index('ix_deliveries_status', 'deliveries', ['status'])


def downgrade() -> None:
    op.drop_table('deliveries')
    op.drop_table('bulletins')
    op.drop_index('ix_subscribers_updated_at', table_name='subscribers')
    op.drop_index('ix_subscribers_status', table_name='subscribers')
    op.drop_table('subscribers')
