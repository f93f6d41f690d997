"""Apply the packaged Alembic migrations programmatically (no alembic.ini needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

from .engine import check_schema_name

MIGRATIONS_DIR: Final = Path(__file__).resolve().with_name("migrations")
HEAD_REVISION: Final = "0008"
# Arbitrary constant: serialises concurrent migrations (e.g. several workers starting).
_PG_MIGRATION_LOCK: Final = 0x637469_6B6974


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic Config for the packaged scripts; env.py reuses *connection*."""
    cfg = Config()
    # ConfigParser interpolation would choke on a literal % in the install path.
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    cfg.set_main_option("path_separator", "os")
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upgrade_to_head(connection: Connection, schema: str | None = None) -> None:
    """Migrate the database behind *connection* to head, inside its transaction."""
    if connection.dialect.name == "postgresql":
        # Transactional DDL: the lock is held until the caller commits.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
        if schema is not None:
            quoted = connection.dialect.identifier_preparer.quote(check_schema_name(schema))
            connection.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {quoted}")
    elif connection.dialect.name == "sqlite":
        # Python's sqlite3 runs DDL outside a transaction; an explicit write lock
        # makes the migration atomic and makes a concurrent opener wait for it.
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    command.upgrade(alembic_config(connection), "head")


def current_revision(connection: Connection) -> str | None:
    """The schema revision recorded in the database, or None if unmigrated."""
    return MigrationContext.configure(connection).get_current_revision()


async def migrate(engine: AsyncEngine, *, schema: str | None = None) -> None:
    """Run all pending migrations on *engine* and commit."""
    async with engine.begin() as conn:
        await conn.run_sync(upgrade_to_head, schema)
