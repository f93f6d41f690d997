"""Alembic environment for ctikit's storage schema.

ctikit runs migrations itself at startup (``ctikit.storage.migrate``) and hands
its open connection over in ``config.attributes["connection"]``. The other
branches serve developers running the ``alembic`` CLI with
``-c src/ctikit/storage/alembic.ini`` (URL from ``CTIKIT_DATABASE_URL``).
"""

from __future__ import annotations

import asyncio
import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection, pool
from sqlalchemy.ext.asyncio import create_async_engine

from ctikit.storage.engine import normalize_url
from ctikit.storage.models import Base

config = context.config
target_metadata = Base.metadata


def _configure_and_run(connection: Connection) -> None:
    # render_as_batch: SQLite cannot ALTER most things; batch mode recreates tables.
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def _cli_url() -> str:
    url = os.environ.get("CTIKIT_DATABASE_URL") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set CTIKIT_DATABASE_URL to run alembic against a database")
    return url


async def _run_with_new_engine() -> None:
    engine = create_async_engine(normalize_url(_cli_url()), poolclass=pool.NullPool)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_configure_and_run)
    finally:
        await engine.dispose()


def main() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure_and_run(connection)
        return
    # Only the CLI gets here; never reconfigure logging inside the server.
    if config.config_file_name is not None:
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    if context.is_offline_mode():
        context.configure(
            url=normalize_url(_cli_url()),
            target_metadata=target_metadata,
            literal_binds=True,
            dialect_opts={"paramstyle": "named"},
            render_as_batch=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    else:
        asyncio.run(_run_with_new_engine())


main()
