"""The Decree-49 review desk.

- update_requests: `conversation_id` (where the customer asked: the outcome is told
  there), `version` (optimistic concurrency: two reviewers cannot both decide),
  `decided_by`, `reject_reason` (a code of bot/operator.yml review.reject_reasons),
  `reject_note`, `notified_via` / `notified_at` (how the customer was told), and
  `media_purged_at` (the photos were deleted after the retention period); an index for the
  queue (status, submitted_at).
- audit_log: `update_request_id` (which request a reviewer viewed or decided).

Backend branch.

Revision ID: 0009_review_desk
Revises: 0005_otp_guard
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_review_desk"
down_revision = "0005_otp_guard"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("update_requests") as batch:
        batch.add_column(sa.Column("conversation_id", sa.String(length=160), nullable=True))
        batch.add_column(sa.Column("version", sa.Integer(), nullable=False,
                                   server_default="0"))
        batch.add_column(sa.Column("decided_by", sa.String(length=80), nullable=True))
        batch.add_column(sa.Column("reject_reason", sa.String(length=30), nullable=True))
        batch.add_column(sa.Column("reject_note", sa.Text(), nullable=True))
        batch.add_column(sa.Column("notified_via", sa.String(length=12), nullable=True))
        batch.add_column(sa.Column("notified_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("media_purged_at", sa.DateTime(), nullable=True))
    op.create_index("ix_update_requests_status_submitted", "update_requests",
                    ["status", "submitted_at"])
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("update_request_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("update_request_id")
    op.drop_index("ix_update_requests_status_submitted", table_name="update_requests")
    with op.batch_alter_table("update_requests") as batch:
        for name in ("media_purged_at", "notified_at", "notified_via", "reject_note",
                     "reject_reason", "decided_by", "version", "conversation_id"):
            batch.drop_column(name)
