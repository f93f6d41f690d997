"""Create the call_logs table.

Revision ID: 0001
Revises:
Create Date: 2024-11-25

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# Revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain column types here (not the models' TypeDecorator) so this file stays
    # valid however the models evolve.
    op.create_table(
        "call_logs",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("agent_id", sa.String(length=255), nullable=False),
        sa.Column("call_id", sa.String(length=255), nullable=False),
        sa.Column("call_type", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=255), nullable=True),
        sa.Column("ani", sa.String(length=255), nullable=True),
        sa.Column("dnis", sa.String(length=255), nullable=True),
        sa.Column("attached_data", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column("disposition", sa.String(length=255), nullable=True),
        sa.Column("subject", sa.String(length=255), nullable=True),
        sa.Column("comments", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "call_type IN ('INBOUND', 'OUTBOUND', 'INTERNAL')",
            name=op.f("ck_call_logs_call_type"),
        ),
        sa.CheckConstraint("duration_seconds >= 0", name=op.f("ck_call_logs_duration_seconds")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_logs")),
    )
    op.create_index(
        "ix_call_logs_agent_id_created_at", "call_logs", ["agent_id", "created_at"], unique=False
    )
    op.create_index("ix_call_logs_call_id", "call_logs", ["call_id"], unique=False)
    op.create_index("ix_call_logs_created_at_id", "call_logs", ["created_at", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_call_logs_created_at_id", table_name="call_logs")
    op.drop_index("ix_call_logs_call_id", table_name="call_logs")
    op.drop_index("ix_call_logs_agent_id_created_at", table_name="call_logs")
    op.drop_table("call_logs")
