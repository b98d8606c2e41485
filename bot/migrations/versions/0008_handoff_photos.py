"""handoff photos: handoff_messages.media, the reference (Telegram file id or link) of a photo
relay to the citizen waiting for a second attempt; cleared once settled

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 12:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('handoff_messages') as batch:
        batch.add_column(sa.Column('media', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('handoff_messages') as batch:
        batch.drop_column('media')
