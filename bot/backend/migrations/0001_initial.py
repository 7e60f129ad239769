"""Initial schema: subscribers, catalog, subscriptions, registrations, top-ups,
update requests, OTP challenges, app consultations, SMS outbox, stores, audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "app_consultations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("msisdn", sa.String(length=10), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_app_consultations_msisdn_at", "app_consultations", ["msisdn", "at"])

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "services",
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("price_label", sa.String(length=60), nullable=False),
        sa.Column("price_vnd", sa.Integer(), nullable=False),
        sa.Column("period_days", sa.Integer(), nullable=False),
        sa.Column("aliases", sa.JSON(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "sms_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("msisdn", sa.String(length=10), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_sms_outbox_msisdn"), "sms_outbox", ["msisdn"])

    op.create_table(
        "stores",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=160), nullable=False),
        sa.Column("province", sa.String(length=80), nullable=False),
        sa.Column("district", sa.String(length=80), nullable=False),
        sa.Column("address", sa.String(length=240), nullable=False),
        sa.Column("opening_hours", sa.String(length=80), nullable=False),
        sa.Column("is_main", sa.Boolean(), nullable=False),
        sa.Column("province_key", sa.String(length=80), nullable=False),
        sa.Column("district_key", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name", name="uq_stores_name"),
    )
    op.create_index(op.f("ix_stores_district_key"), "stores", ["district_key"])
    op.create_index(op.f("ix_stores_province_key"), "stores", ["province_key"])

    op.create_table(
        "subscribers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("msisdn", sa.String(length=10), nullable=False),
        sa.Column("subscription_type", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("full_name", sa.String(length=120), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("gender", sa.String(length=10), nullable=True),
        sa.Column("nationality", sa.String(length=60), nullable=True),
        sa.Column("province", sa.String(length=80), nullable=True),
        sa.Column("district", sa.String(length=80), nullable=True),
        sa.Column("ward", sa.String(length=80), nullable=True),
        sa.Column("street", sa.String(length=160), nullable=True),
        sa.Column("occupation_code", sa.Integer(), nullable=True),
        sa.Column("id_type", sa.String(length=10), nullable=True),
        sa.Column("id_number", sa.String(length=20), nullable=True),
        sa.Column("id_issue_date", sa.Date(), nullable=True),
        sa.Column("id_issue_place", sa.String(length=120), nullable=True),
        sa.Column("has_id_front_photo", sa.Boolean(), nullable=False),
        sa.Column("has_id_back_photo", sa.Boolean(), nullable=False),
        sa.Column("has_portrait_photo", sa.Boolean(), nullable=False),
        sa.Column("name_mismatch", sa.Boolean(), nullable=False),
        sa.Column("is_premium_number", sa.Boolean(), nullable=False),
        sa.Column("premium_commitment", sa.Boolean(), nullable=False),
        sa.Column("company_tax_code", sa.String(length=20), nullable=True),
        sa.Column("device", sa.String(length=20), nullable=False),
        sa.Column("app_installed_at", sa.DateTime(), nullable=True),
        sa.Column("balance_vnd", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("msisdn"),
    )
    op.create_table(
        "otp_challenges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("salt", sa.String(length=32), nullable=False),
        sa.Column("issued_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.ForeignKeyConstraint(["subscriber_id"], ["subscribers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_otp_subscriber_issued", "otp_challenges", ["subscriber_id", "issued_at"])

    op.create_table(
        "pending_registrations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("service_code", sa.String(length=20), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_code"],
            ["services.code"],
        ),
        sa.ForeignKeyConstraint(["subscriber_id"], ["subscribers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_pending_subscriber_service", "pending_registrations", ["subscriber_id", "service_code"]
    )

    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("service_code", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["service_code"],
            ["services.code"],
        ),
        sa.ForeignKeyConstraint(["subscriber_id"], ["subscribers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_subscriptions_subscriber_status", "subscriptions", ["subscriber_id", "status"]
    )

    op.create_table(
        "topups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("amount_vnd", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=30), nullable=False),
        sa.ForeignKeyConstraint(["subscriber_id"], ["subscribers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_topups_subscriber_at", "topups", ["subscriber_id", "at"])

    op.create_table(
        "update_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("photos", sa.JSON(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("submitted_at", sa.DateTime(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["subscriber_id"], ["subscribers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_update_requests_subscriber_id"), "update_requests", ["subscriber_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_update_requests_subscriber_id"), table_name="update_requests")

    op.drop_table("update_requests")
    op.drop_index("ix_topups_subscriber_at", table_name="topups")

    op.drop_table("topups")
    op.drop_index("ix_subscriptions_subscriber_status", table_name="subscriptions")

    op.drop_table("subscriptions")
    op.drop_index("ix_pending_subscriber_service", table_name="pending_registrations")

    op.drop_table("pending_registrations")
    op.drop_index("ix_otp_subscriber_issued", table_name="otp_challenges")

    op.drop_table("otp_challenges")
    op.drop_table("subscribers")
    op.drop_index(op.f("ix_stores_province_key"), table_name="stores")
    op.drop_index(op.f("ix_stores_district_key"), table_name="stores")

    op.drop_table("stores")
    op.drop_index(op.f("ix_sms_outbox_msisdn"), table_name="sms_outbox")

    op.drop_table("sms_outbox")
    op.drop_table("services")
    op.drop_table("audit_log")
    op.drop_index("ix_app_consultations_msisdn_at", table_name="app_consultations")

    op.drop_table("app_consultations")
