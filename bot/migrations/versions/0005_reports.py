"""reports: when a review item was closed (time from question to answer) and the scheduled
reports claimed for sending (never twice, whatever the number of replicas)

Revision ID: 0005_reports
Revises: 0004
Create Date: 2026-12-10 09:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0005_reports'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('review_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('closed_at', sa.DateTime(), nullable=True))
    op.create_table('report_deliveries',
    sa.Column('key', sa.String(length=32), nullable=False),
    sa.Column('claimed_at', sa.DateTime(), nullable=False),
    sa.Column('claimed_by', sa.String(length=128), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.Column('outcome', sa.String(length=255), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )


def downgrade() -> None:
    op.drop_table('report_deliveries')
    with op.batch_alter_table('review_items', schema=None) as batch_op:
        batch_op.drop_column('closed_at')
