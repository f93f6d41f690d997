"""SQLAlchemy ORM mapping of the ``call_logs`` table.

The schema itself is created by the Alembic migrations in ``migrations/``;
keep this mapping and the latest migration in step (a test compares them).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# Deterministic constraint names so later migrations can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that always binds and returns aware UTC values.

    PostgreSQL stores ``timestamptz`` natively. SQLite has no datetime type and
    SQLAlchemy stores a naive ISO string, so values are converted to UTC before
    binding (one fixed offset keeps text order equal to time order) and marked
    as UTC again when read back.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetimes are not accepted; use timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base for ctikit's storage tables."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class CallLogRow(Base):
    """One saved call log. ``attached_data`` holds JSON text (portable, exact)."""

    __tablename__ = "call_logs"
    __table_args__ = (
        CheckConstraint("call_type IN ('INBOUND', 'OUTBOUND', 'INTERNAL')", name="call_type"),
        CheckConstraint("duration_seconds >= 0", name="duration_seconds"),
        # Agent history is the hot query; call_id looks up the logs of one call.
        Index("ix_call_logs_agent_id_created_at", "agent_id", "created_at"),
        Index("ix_call_logs_call_id", "call_id"),
        # Unfiltered listings and exports page through created_at order.
        Index("ix_call_logs_created_at_id", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    agent_id: Mapped[str] = mapped_column(String(255))
    call_id: Mapped[str] = mapped_column(String(255))
    call_type: Mapped[str] = mapped_column(String(16))
    label: Mapped[str | None] = mapped_column(String(255))
    ani: Mapped[str | None] = mapped_column(String(255))
    dnis: Mapped[str | None] = mapped_column(String(255))
    attached_data: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    disposition: Mapped[str | None] = mapped_column(String(255))
    subject: Mapped[str | None] = mapped_column(String(255))
    comments: Mapped[str | None] = mapped_column(Text)


class UserRow(Base):
    """A person who logs in: an agent, or a supervisor of a team."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('agent', 'supervisor')", name="role"),)

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    agent_id: Mapped[str | None] = mapped_column(String(64))
    team: Mapped[str | None] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Tokens carry the generation they were issued in; logout, a new password or disabling
    # the user moves it on, which ends every earlier session.
    session_generation: Mapped[int] = mapped_column(Integer, server_default="0")
    disabled: Mapped[bool] = mapped_column(Boolean, server_default=false())


class ServiceTokenRow(Base):
    """A back-office caller's token. Only its SHA-256 is stored."""

    __tablename__ = "service_tokens"
    __table_args__ = (Index("ix_service_tokens_token_hash", "token_hash", unique=True),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SettingRow(Base):
    """Server-wide values that must survive restarts and be shared by nodes (the signing key)."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text())


class CallStateRow(Base):
    """An agent's active calls, saved so a restarted server can resync its consoles."""

    __tablename__ = "call_state"

    agent_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(Text())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SigningKeyRow(Base):
    """A key that signs login tokens (HS256), named in their ``kid`` header. The newest key
    without ``retires_at`` signs; every key verifies until its ``retires_at`` passes, so a
    rotation logs nobody out (docs/operations.md)."""

    __tablename__ = "signing_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    secret: Mapped[str] = mapped_column(Text())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    retires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WebhookEndpointRow(Base):
    """A URL that receives signed webhook deliveries of the events it names."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    url: Mapped[str] = mapped_column(Text())
    secret: Mapped[str] = mapped_column(String(128))
    events: Mapped[str] = mapped_column(String(1000))  # names, space-separated
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(255))


class WebhookOutboxRow(Base):
    """One delivery of one event to one endpoint: pending (retried) or dead (given up).
    Written in the transaction of what it reports; deleted once delivered."""

    __tablename__ = "webhook_outbox"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'dead')", name="status"),
        Index("ix_webhook_outbox_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64))  # stable: the receiver's de-duplication key
    endpoint_id: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16))
    last_error: Mapped[str | None] = mapped_column(String(500))


class AuditRow(Base):
    """Who did what, when, from where (never a password or a token)."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_actor_at", "actor", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(255))
    outcome: Mapped[str] = mapped_column(String(16))
    address: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text())  # a JSON object
