"""Signing keys: several at once, so the key can be rotated without logging everyone out.

The single key in ``settings`` (``jwt_secret``) becomes the key ``legacy``: tokens issued
before this revision carry no ``kid`` and are checked with it until they expire.

Revision ID: 0007
Revises: 0004
Create Date: 2026-12-05

"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEGACY_KID = "legacy"
_settings = sa.table("settings", sa.column("key", sa.String), sa.column("value", sa.Text))


def upgrade() -> None:
    keys = op.create_table(
        "signing_keys",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retires_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signing_keys")),
    )
    conn = op.get_bind()
    secret = conn.scalar(sa.select(_settings.c.value).where(_settings.c.key == "jwt_secret"))
    if secret is not None:
        now = datetime.now(UTC)
        # SQLite keeps naive UTC text (models.UTCDateTime), PostgreSQL timestamptz.
        created = now.replace(tzinfo=None) if conn.dialect.name == "sqlite" else now
        op.bulk_insert(keys, [{"id": LEGACY_KID, "secret": secret, "created_at": created}])
        op.execute(_settings.delete().where(_settings.c.key == "jwt_secret"))


def downgrade() -> None:
    # The key that signs now goes back to being the only one.
    conn = op.get_bind()
    keys = sa.table(
        "signing_keys",
        sa.column("secret", sa.Text),
        sa.column("created_at", sa.DateTime),
        sa.column("retires_at", sa.DateTime),
    )
    secret = conn.scalar(
        sa.select(keys.c.secret)
        .where(keys.c.retires_at.is_(None))
        .order_by(keys.c.created_at.desc())
        .limit(1)
    )
    if secret is not None:
        op.execute(_settings.delete().where(_settings.c.key == "jwt_secret"))
        op.bulk_insert(_settings, [{"key": "jwt_secret", "value": secret}])
    op.drop_table("signing_keys")
