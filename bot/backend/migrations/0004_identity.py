"""Identity ledger: which number a conversation proved it owns, how, and until when.

Backend branch (after 0001, beside 0002_channels and 0003_handoff).

Revision ID: 0004_identity
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_identity"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identity_verifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=160), nullable=False),
        sa.Column("msisdn", sa.String(length=10), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("verified_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_identity_verifications_conversation_id"),
                    "identity_verifications", ["conversation_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_identity_verifications_conversation_id"),
                  table_name="identity_verifications")
    op.drop_table("identity_verifications")
