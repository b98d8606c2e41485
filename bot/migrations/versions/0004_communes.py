"""communes: the citizen's commune (per hashed user id), and the commune of logged questions,
review items and review groups (the group's commune is where it is reviewed; NULL: the province)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-09 09:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('citizens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('user_key', sa.String(length=64), nullable=False),
    sa.Column('commune_code', sa.String(length=16), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('channel', 'user_key', name='uq_citizen')
    )
    for table in ('questions', 'review_items', 'review_groups'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('commune', sa.String(length=16), nullable=True))


def downgrade() -> None:
    for table in ('review_groups', 'review_items', 'questions'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('commune')
    op.drop_table('citizens')
