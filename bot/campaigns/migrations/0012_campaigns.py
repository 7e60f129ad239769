"""Campaigns: campaigns, per-customer deliveries (unique per campaign and number), opt-outs.

Owned by bot/campaigns (models in bot/campaigns/models.py).

Revision ID: 0012_campaigns
Revises: 0001
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_campaigns"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("audience", sa.Text(), nullable=False),
        sa.Column("response", sa.String(length=80), nullable=False),
        sa.Column("deadline", sa.String(length=40), nullable=False),
        sa.Column("channels", sa.String(length=60), nullable=False),
        sa.Column("starts_at", sa.DateTime(), nullable=True),
        sa.Column("ends_at", sa.DateTime(), nullable=True),
        sa.Column("rate_per_minute", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("targeted_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "campaign_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("msisdn", sa.String(length=10), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=True),
        sa.Column("user_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("replied_at", sa.DateTime(), nullable=True),
        sa.Column("update_started_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("campaign_id", "msisdn", name="uq_campaign_delivery"),
    )
    op.create_index("ix_campaign_deliveries_campaign_id", "campaign_deliveries",
                    ["campaign_id"])
    op.create_index("ix_campaign_deliveries_msisdn_status", "campaign_deliveries",
                    ["msisdn", "status"])
    op.create_index("ix_campaign_deliveries_chat", "campaign_deliveries",
                    ["channel", "user_id"])
    op.create_table(
        "campaign_opt_outs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("msisdn", sa.String(length=10), nullable=True),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("channel", "user_id", name="uq_campaign_opt_out_chat"),
    )
    op.create_index("ix_campaign_opt_outs_msisdn", "campaign_opt_outs", ["msisdn"])


def downgrade() -> None:
    op.drop_table("campaign_opt_outs")
    op.drop_table("campaign_deliveries")
    op.drop_table("campaigns")
