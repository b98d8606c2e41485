"""quiz posts: a contest week's leaderboard claimed for posting (contest, week primary key)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 13:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('quiz_posts',
    sa.Column('contest', sa.String(length=64), nullable=False),
    sa.Column('week', sa.Integer(), nullable=False),
    sa.Column('claimed_at', sa.DateTime(), nullable=False),
    sa.Column('claimed_by', sa.String(length=128), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.Column('outcome', sa.String(length=255), nullable=False),
    sa.PrimaryKeyConstraint('contest', 'week')
    )


def downgrade() -> None:
    op.drop_table('quiz_posts')
