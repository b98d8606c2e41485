"""quiz contests: one row per counted round (contest, hashed user, local day unique)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 12:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('quiz_results',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('contest', sa.String(length=64), nullable=False),
    sa.Column('user_key', sa.String(length=64), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('commune_code', sa.String(length=16), nullable=True),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('contest', 'user_key', 'day', name='uq_quiz_result')
    )
    op.create_index('ix_quiz_results_contest', 'quiz_results', ['contest'])
    op.create_index('ix_quiz_results_user_key', 'quiz_results', ['user_key'])


def downgrade() -> None:
    op.drop_index('ix_quiz_results_user_key', table_name='quiz_results')
    op.drop_index('ix_quiz_results_contest', table_name='quiz_results')
    op.drop_table('quiz_results')
