"""OTP that cannot be ground down, and no readable code at rest.

- otp_challenges: bound to the conversation that asked (`conversation_id`), keyed by
  number (`msisdn`) so numbers in the operator's ranges that are not subscribers get the
  same accounting (`subscriber_id` becomes nullable); indexes for the rolling limits.
- otp_wrong_codes: every wrong code typed, for the per-number daily limit.
- sms_outbox: `status` (pending | sent), `sent_at`, `redacted_text`. Rows already there
  count as sent; the codes in old OTP messages are masked.

Backend branch.

Revision ID: 0005_otp_guard
Revises: 0004_identity
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_otp_guard"
down_revision = "0004_identity"
branch_labels = None
depends_on = None

_OLD_OTP_PREFIX = "Mã xác thực của quý khách là "


def upgrade() -> None:
    from bot.privacy import redact_text

    conn = op.get_bind()
    with op.batch_alter_table("otp_challenges") as batch:
        batch.add_column(sa.Column("msisdn", sa.String(length=10), nullable=True))
        batch.add_column(sa.Column("conversation_id", sa.String(length=160), nullable=True))
    conn.execute(sa.text(
        "UPDATE otp_challenges SET msisdn = (SELECT subscribers.msisdn FROM subscribers "
        "WHERE subscribers.id = otp_challenges.subscriber_id), conversation_id = ''"))
    # Codes issued before conversations were bound can no longer be verified.
    conn.execute(sa.text("UPDATE otp_challenges SET status = 'superseded' "
                         "WHERE status = 'open'"))
    conn.execute(sa.text("DELETE FROM otp_challenges WHERE msisdn IS NULL"))
    with op.batch_alter_table("otp_challenges") as batch:
        batch.alter_column("msisdn", existing_type=sa.String(length=10), nullable=False)
        batch.alter_column("conversation_id", existing_type=sa.String(length=160),
                           nullable=False)
        batch.alter_column("subscriber_id", existing_type=sa.Integer(), nullable=True)
    op.create_index("ix_otp_msisdn_issued", "otp_challenges", ["msisdn", "issued_at"])
    op.create_index("ix_otp_conversation_issued", "otp_challenges",
                    ["conversation_id", "issued_at"])
    op.create_index("ix_otp_issued", "otp_challenges", ["issued_at"])

    op.create_table(
        "otp_wrong_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("msisdn", sa.String(length=10), nullable=False),
        sa.Column("conversation_id", sa.String(length=160), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_otp_wrong_msisdn_at", "otp_wrong_codes", ["msisdn", "at"])

    with op.batch_alter_table("sms_outbox") as batch:
        batch.add_column(sa.Column("status", sa.String(length=10), nullable=True))
        batch.add_column(sa.Column("sent_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("redacted_text", sa.Text(), nullable=True))
    outbox = sa.table("sms_outbox", sa.column("id", sa.Integer()), sa.column("text", sa.Text()))
    rows = conn.execute(sa.select(outbox.c.id, outbox.c.text)
                        .where(outbox.c.text.like(_OLD_OTP_PREFIX + "%"))).all()
    for row_id, text in rows:
        conn.execute(outbox.update().where(outbox.c.id == row_id)
                     .values(text=redact_text(text)))
    conn.execute(sa.text("UPDATE sms_outbox SET status = 'sent', sent_at = created_at"))
    with op.batch_alter_table("sms_outbox") as batch:
        batch.alter_column("status", existing_type=sa.String(length=10), nullable=False)
    op.create_index("ix_sms_outbox_status_id", "sms_outbox", ["status", "id"])


def downgrade() -> None:
    conn = op.get_bind()
    op.drop_index("ix_sms_outbox_status_id", table_name="sms_outbox")
    # The old schema cannot tell pending from sent: mask the codes of pending messages.
    conn.execute(sa.text("UPDATE sms_outbox SET text = redacted_text "
                         "WHERE redacted_text IS NOT NULL"))
    with op.batch_alter_table("sms_outbox") as batch:
        batch.drop_column("redacted_text")
        batch.drop_column("sent_at")
        batch.drop_column("status")

    op.drop_index("ix_otp_wrong_msisdn_at", table_name="otp_wrong_codes")
    op.drop_table("otp_wrong_codes")

    op.drop_index("ix_otp_issued", table_name="otp_challenges")
    op.drop_index("ix_otp_conversation_issued", table_name="otp_challenges")
    op.drop_index("ix_otp_msisdn_issued", table_name="otp_challenges")
    conn.execute(sa.text("DELETE FROM otp_challenges WHERE subscriber_id IS NULL"))
    with op.batch_alter_table("otp_challenges") as batch:
        batch.alter_column("subscriber_id", existing_type=sa.Integer(), nullable=False)
        batch.drop_column("conversation_id")
        batch.drop_column("msisdn")
