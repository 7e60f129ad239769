"""Hand-off: console roles per account (agent, reviewer, designer, campaigns).

Existing accounts keep what they could do: they become agents.

Revision ID: 0006_console_roles
Revises: 0003_handoff
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_console_roles"
down_revision = "0003_handoff"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("handoff_agents") as batch:
        batch.add_column(sa.Column("roles", sa.String(length=120), nullable=False,
                                   server_default="agent"))


def downgrade() -> None:
    with op.batch_alter_table("handoff_agents") as batch:
        batch.drop_column("roles")
