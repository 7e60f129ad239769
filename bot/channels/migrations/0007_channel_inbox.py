"""Channels: the durable inbound inbox and the outbox (idempotent sends).

Owned by bot/channels (models in bot/channels/models.py: InboxItem, OutboxItem).

Revision ID: 0007_channel_inbox
Revises: 0002_channels
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_channel_inbox"
down_revision = "0002_channels"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channel_inbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("external_id", sa.String(length=120), nullable=False),
        sa.Column("user_key", sa.String(length=100), nullable=False),
        sa.Column("payload", sa.Text(), nullable=True),
        sa.Column("responses", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("channel", "external_id", name="uq_channel_inbox"),
    )
    op.create_index("ix_channel_inbox_due", "channel_inbox", ["status", "next_attempt_at"])
    op.create_index("ix_channel_inbox_user", "channel_inbox", ["user_key", "id"])
    op.create_table(
        "channel_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key", name="uq_channel_outbox_key"),
    )


def downgrade() -> None:
    op.drop_table("channel_outbox")
    op.drop_index("ix_channel_inbox_user", table_name="channel_inbox")
    op.drop_index("ix_channel_inbox_due", table_name="channel_inbox")
    op.drop_table("channel_inbox")
