"""Create agent_states (every change of an agent's state, for reports).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agent_states",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("previous", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('available', 'away', 'offline', 'acw')",
            name=op.f("ck_agent_states_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_states")),
    )
    op.create_index(
        "ix_agent_states_agent_id_started_at", "agent_states", ["agent_id", "started_at"]
    )
    op.create_index("ix_agent_states_started_at", "agent_states", ["started_at"])


def downgrade() -> None:
    op.drop_index("ix_agent_states_started_at", table_name="agent_states")
    op.drop_index("ix_agent_states_agent_id_started_at", table_name="agent_states")
    op.drop_table("agent_states")
