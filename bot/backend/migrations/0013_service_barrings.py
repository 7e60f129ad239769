"""Service barrings (chặn dịch vụ): what is barred on a subscriber, why and since when
(bot/backend/models.py ServiceBarring), so the assistant can name a barring as the cause of
a symptom and offer its fix.

Backend branch.

Revision ID: 0013_service_barrings
Revises: 0009_review_desk
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_service_barrings"
down_revision = "0009_review_desk"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "service_barrings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("subscriber_id", sa.Integer(),
                  sa.ForeignKey("subscribers.id", ondelete="CASCADE"), nullable=False),
        sa.Column("scope", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=30), nullable=False),
        sa.Column("since", sa.DateTime(), nullable=False),
        sa.Column("debt_vnd", sa.Integer(), nullable=True),
        sa.Column("lifted_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_service_barrings_subscriber", "service_barrings",
                    ["subscriber_id", "lifted_at"])


def downgrade() -> None:
    op.drop_index("ix_service_barrings_subscriber", table_name="service_barrings")
    op.drop_table("service_barrings")
