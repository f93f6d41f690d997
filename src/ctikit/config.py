"""Server configuration: a TOML file, overridden by command-line flags (cli.py).

The schema is the types in this module: msgspec Structs whose fields carry their range or
pattern (``Meta``). A file is converted with msgspec, and a refusal becomes one line naming
the file, the key, what is wrong and what is expected (:func:`_explain`). Rules that span
keys (duplicates, ``/examples/`` without ``examples_dir``) run after the conversion.
docs/configuration.md lists every key; a test checks it against this schema.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import os
import re
import tomllib
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
import msgspec.inspect as mi
from msgspec import Meta

from .core import screenpops
from .core.model import AGENT_ID_RE, Limits
from .core.presence import PresencePolicy, Status
from .core.supervision import Thresholds
from .schema import Path_, bare_key, describe, fields_of, plain, shown, type_at, value_at


class ConfigError(Exception):
    """The configuration is invalid; the message is one line naming the setting."""


AgentId = Annotated[
    str, Meta(pattern=AGENT_ID_RE.pattern, description="1 to 64 letters, digits or . _ @ + -")
]
Number = Annotated[
    str,
    Meta(pattern=r"^[A-Za-z0-9]{1,32}$", description='1 to 32 letters or digits, quoted ("1001")'),
]
Name = Annotated[str, Meta(min_length=1, max_length=100)]
FilePath = Annotated[str, Meta(min_length=1, description="a file path")]
DirPath = Annotated[str, Meta(min_length=1, description="a directory path")]
WsUrl = Annotated[
    str,
    Meta(pattern=r"^wss?://[^/\s?#]+\S*$", max_length=2000, description="a ws:// or wss:// URL"),
]
SipDomain = Annotated[
    str,
    Meta(
        pattern=r"^[A-Za-z0-9.:\[\]-]{1,253}$",
        description="a host name or IP address, with :port if not 5060",
    ),
]
SipPassword = Annotated[str, Meta(min_length=1, max_length=256)]
HttpUrl = Annotated[str, Meta(pattern=r"^https?://[^/\s?#]+\S*$", description="an http(s):// URL")]
Origin = Annotated[
    str,
    Meta(
        pattern=r"^https?://[^/\s?#]+$",
        description="an origin such as https://crm.example.com (no path)",
    ),
]
DatabaseUrl = Annotated[
    str,
    Meta(
        pattern=r"^(?:(?:sqlite|postgres|postgresql)(?:\+\w+)?://\S*|(?!.*://)\S.*)$",
        description="a SQLite file path, sqlite:///FILE or postgresql+asyncpg://USER:PASS@HOST/DB",
    ),
]
ProxyAddress = Annotated[
    str,
    Meta(min_length=1, max_length=64, description="an IP address or network such as 10.0.0.0/8"),
]
RedisUrl = Annotated[
    str,
    Meta(pattern=r"^(?:redis|rediss|unix)://\S+$", description="redis://HOST:PORT/DB"),
]


@dataclass(frozen=True, slots=True, kw_only=True)
class ComponentConfig:
    """A custom component the console loads in an iframe."""

    name: Name
    url: Annotated[
        str,
        Meta(
            pattern=r"^(?:https?://[^/\s?#]+|/(?!/))\S*$",
            description="an absolute http(s):// URL or a path on this server (/examples/...)",
        ),
    ]
    height: Annotated[int, Meta(ge=50, le=4000)] = 360  # pixels


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentConfig:
    """An agent the telephony connector knows (the simulator routes by extension)."""

    id: AgentId
    extension: Number | None = None
    name: Name | None = None
    # webrtc: the digest password of the extension at the SIP server (only this agent's own
    # console is given it).
    sip_password: SipPassword | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class UserConfig:
    """A user declared in the config file (added to the database at start if absent)."""

    username: AgentId
    password_hash: Annotated[
        str,
        Meta(
            pattern=r"^\$argon2",
            description="an argon2 hash printed by `ctikit user hash-password`",
        ),
    ]
    role: Literal["agent", "supervisor"] = "agent"
    agent: AgentId | None = None
    team: Annotated[str, Meta(min_length=1, max_length=64)] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkspaceConfig:
    """The console's tabs (docs/workspace.md)."""

    # Origins, besides the console's, the components' and the screen pops', whose pages may
    # open in tabs.
    allowed_origins: tuple[Origin, ...] = ()


ObjectName = Annotated[
    str, Meta(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,79}$", description="an object name such as Contact")
]


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenCtiConfig:
    """The call center definition of an Open CTI softphone (docs/open-cti.md)."""

    # The softphone page the console loads in its softphone panel; none: no panel.
    softphone_url: (
        Annotated[
            str,
            Meta(
                pattern=r"^(?:https?://[^/\s?#]+|/(?!/))\S*$",
                description="an absolute http(s):// URL or a path on this server (/examples/...)",
            ),
        ]
        | None
    ) = None
    label: Name = "Phone"
    height: Annotated[int, Meta(ge=240, le=2560)] = 400  # pixels
    width: Annotated[int, Meta(ge=200, le=1920)] = 300  # pixels
    # getCallCenterSettings(): the definition's keys ("/reqGeneralInfo/reqAdapterUrl") and values.
    settings: (
        Annotated[
            dict[
                Annotated[str, Meta(min_length=1, max_length=255)],
                Annotated[str, Meta(max_length=4096)],
            ],
            Meta(description='a table of "key" = "text" pairs'),
        ]
        | None
    ) = None
    # getSoftphoneLayout(): the objects a search looks in, per call type.
    inbound_objects: tuple[ObjectName, ...] = ("Contact", "Account", "Lead")
    outbound_objects: tuple[ObjectName, ...] = ("Contact", "Account", "Lead")
    internal_objects: tuple[ObjectName, ...] = ("User",)
    # Where a record opens: {recordId} and {objectType} are filled in (URL-encoded).
    record_url: (
        Annotated[
            str,
            Meta(
                pattern=r"^https?://[^/\s?#{}]+(?:[/?#]\S*)?$",
                max_length=2000,
                description="an http(s):// URL, {recordId} and {objectType} only after the host",
            ),
        ]
        | None
    ) = None
    search_url: HttpUrl | None = None  # the CRM's search endpoint (docs/open-cti.md)
    apex_url: HttpUrl | None = None  # where runApex goes (docs/open-cti.md)
    # Sent as "Authorization: Bearer TOKEN" to search_url and apex_url.
    endpoint_token: Annotated[str, Meta(min_length=1, max_length=4096)] | None = None
    # Seconds an endpoint has to answer; below the scripts' 30 s wait for the console.
    endpoint_timeout: Annotated[float, Meta(gt=0, le=25)] = 5.0


Reason = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^\S(?:.*\S)?$")]


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentStateConfig:
    """Agent states (core/presence.py): what a new agent starts in, away reasons, wrap-up."""

    initial: Literal["available", "away", "offline"] = "available"
    away_reasons: Annotated[tuple[Reason, ...], Meta(max_length=50)] = (
        "Break",
        "Lunch",
        "Meeting",
        "Training",
    )
    acw_seconds: Annotated[float, Meta(ge=0, le=86400)] = 0.0  # after-call work; 0: none

    def policy(self) -> PresencePolicy:
        """The core's policy for these settings."""
        return PresencePolicy(
            initial=Status(self.initial),
            away_reasons=self.away_reasons,
            acw_seconds=float(self.acw_seconds),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class SupervisorConfig:
    """The supervisor page's alerts and service level (core/supervision.py)."""

    ring_alert_seconds: Annotated[float, Meta(gt=0, le=86400)] = 30.0
    hold_alert_seconds: Annotated[float, Meta(gt=0, le=86400)] = 120.0
    service_level_seconds: Annotated[float, Meta(gt=0, le=86400)] = 20.0

    def thresholds(self) -> Thresholds:
        """The core's thresholds for these settings."""
        return Thresholds(
            ring_alert_seconds=float(self.ring_alert_seconds),
            hold_alert_seconds=float(self.hold_alert_seconds),
            service_level_seconds=float(self.service_level_seconds),
        )


Disposition = Annotated[str, Meta(min_length=1, max_length=255)]
Shortcut = Annotated[
    str,
    Meta(
        pattern=r"^(?:(?:(?:Ctrl|Alt|Shift|Meta)\+)+[A-Z0-9]|(?:(?:Ctrl|Alt|Shift|Meta)\+)*F(?:[1-9]|1[0-2]))?$",
        description='modifiers and a key such as "Alt+Shift+A" or "F8" ("": none)',
    ),
]

#: The dispositions an agent picks from when none are configured.
DEFAULT_DISPOSITIONS = ("Resolved", "Follow-up needed", "Escalated", "Wrong number", "No answer")


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsoleConfig:
    """The agent console's desk: dispositions, how a ringing call is announced, shortcuts
    (docs/console.md)."""

    dispositions: tuple[Disposition, ...] = DEFAULT_DISPOSITIONS
    other_disposition: bool = True  # "Other...": the agent may type one
    ringtone: bool = True
    tab_title: bool = True  # the tab's title says a call rings
    notifications: bool = True  # a desktop notification when a call rings in a hidden tab
    shortcut_answer: Shortcut = "Alt+Shift+A"
    shortcut_hangup: Shortcut = "Alt+Shift+H"
    shortcut_hold: Shortcut = "Alt+Shift+O"  # hold, or retrieve a held call
    shortcut_mute: Shortcut = "Alt+Shift+M"  # mute or unmute
    shortcut_dial: Shortcut = "Alt+Shift+D"  # to the number to dial


@dataclass(frozen=True, slots=True, kw_only=True)
class ScreenPopConfig:
    """A primary tab the console opens for each call of a type (core/screenpops.py: templates)."""

    call_type: Literal["inbound", "outbound", "internal", "any"]
    url: Annotated[
        str,
        Meta(
            pattern=r"^(?:https?://[^/\s?#{}]+(?:[/?#]\S*)?|/(?!/)\S*)$",
            max_length=2000,
            description="an http(s):// URL or a /path, {placeholders} only after the host",
        ),
    ]
    title: Annotated[str, Meta(min_length=1, max_length=200)] | None = None
    # "ring": when the call begins (rings, or is dialled); "answer": once it is answered.
    on: Literal["ring", "answer"] = "answer"


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    """Everything the server reads. Each ``[server]`` key is a field here; ``components``,
    ``agents``, ``users``, ``limits``, ``workspace``, ``screen_pops``, ``open_cti``,
    ``agent_state``, ``supervisor`` and ``console`` are the
    file's other sections."""

    host: Annotated[str, Meta(min_length=1, description="an IP address or host name")] = "127.0.0.1"
    port: Annotated[int, Meta(ge=0, le=65535)] = 8080
    database: DatabaseUrl = "sqlite:///ctikit.db"
    # the simulator, a kamailio + baresip lab, or the console's browser as the phone
    connector: Literal["sim", "sip", "webrtc"] = "sim"
    webrtc_ws_url: WsUrl | None = None  # webrtc: the SIP server's WebSocket (SIP.js transport)
    webrtc_domain: SipDomain | None = None  # webrtc: the SIP domain of the agents' AORs
    # webrtc: how long a console that lost its ctikit socket may take to come back with its
    # calls before the server ends them
    webrtc_grace_seconds: Annotated[float, Meta(ge=0, le=300)] = 10.0
    sip_lines: Annotated[int, Meta(ge=1, le=50)] = 2  # SIP: baresip lines per agent
    sip_queue: Number | None = None  # SIP: a contact-centre number every agent answers
    sip_root: DirPath | None = None  # SIP: where lab files go (default: a new temp dir)
    scenario: FilePath | None = None
    # sim: seconds a ringing call waits for an answer before the caller gives up (missed call)
    sim_ring_timeout: Annotated[float, Meta(ge=1, le=3600)] = 30.0
    # /ANSWER and /RETRIEVE hold the agent's connected calls first (one conversation at a time).
    hold_on_answer: bool = True
    examples_dir: DirPath | None = None  # served at /examples/ when set
    demo: bool = False
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["text", "json"] = "text"  # json: one object per line (docs/operations.md)
    # HTTPS on this node: a PEM certificate (chain) and its key; both or neither.
    tls_cert: FilePath | None = None
    tls_key: FilePath | None = None
    max_frame_bytes: Annotated[int, Meta(ge=1024, le=64 * 1024 * 1024)] = 256 * 1024
    # Frames queued for a slow console before it is dropped.
    send_queue_frames: Annotated[int, Meta(ge=1, le=1_000_000)] = 2000
    # Pending connections the kernel keeps (reconnect storms).
    listen_backlog: Annotated[int, Meta(ge=1, le=65535)] = 4096
    token_ttl: Annotated[float, Meta(ge=60, le=30 * 86400)] = 12 * 3600  # seconds
    # Per console socket: average requests per second, burst, refusals in a row to close.
    max_requests_per_second: Annotated[float, Meta(gt=0, le=1_000_000)] = 50.0
    max_request_burst: Annotated[int, Meta(ge=1, le=1_000_000)] = 200
    abuse_close_after: Annotated[int, Meta(ge=1, le=1_000_000)] = 500
    # Per user (all its console sockets on this node): bytes of requests per second, and at once
    # (at least max_frame_bytes). What a request costs the server grows with its size.
    max_request_bytes_per_second: Annotated[int, Meta(ge=1024, le=1 << 40)] = 128 * 1024
    max_request_bytes_burst: Annotated[int, Meta(ge=1024, le=1 << 40)] = 256 * 1024
    allowed_origins: tuple[Origin, ...] = ()  # extra origins allowed to open console sockets
    # Seconds a CTI command waits for the telephony's outcome before replying "timeout".
    command_timeout: Annotated[float, Meta(gt=0, le=600)] = 10.0
    # Budgets against one client taking the server from everyone (docs/security.md).
    header_timeout: Annotated[float, Meta(ge=0.1, le=86400)] = 10.0  # a request's head (slowloris)
    body_timeout: Annotated[float, Meta(ge=0.1, le=86400)] = 30.0  # its body, once the head is in
    idle_timeout: Annotated[float, Meta(ge=0.1, le=86400)] = 75.0  # a kept-alive idle connection
    # Open connections at once; 0: the descriptor limit less a reserve.
    max_connections: Annotated[int, Meta(ge=0, le=10_000_000)] = 0
    max_connections_per_address: Annotated[int, Meta(ge=0, le=10_000_000)] = 1000  # 0: no cap
    max_sockets_per_agent: Annotated[int, Meta(ge=1, le=1_000_000)] = 16  # on this node
    # Reverse proxies whose X-Forwarded-For names the client (addresses or networks).
    trusted_proxies: tuple[ProxyAddress, ...] = ("127.0.0.1", "::1")
    login_failures_per_user: Annotated[int, Meta(ge=1, le=1_000_000)] = 5  # per login_window
    login_failures_per_address: Annotated[int, Meta(ge=1, le=1_000_000)] = 30  # per login_window
    login_window: Annotated[float, Meta(ge=1, le=86400)] = 60.0  # also how long a lockout lasts
    login_concurrency: Annotated[int, Meta(ge=0, le=1024)] = 0  # password checks; 0: one per core
    login_queue: Annotated[int, Meta(ge=0, le=100_000)] = 8  # logins waiting; more: 503
    session_cache_seconds: Annotated[float, Meta(ge=0, le=60)] = 2.0  # a logout elsewhere lags
    # Cluster mode (docs/deploy.md): nodes share call state and events through Redis.
    cluster: RedisUrl | None = None  # None: a single node, no Redis
    cluster_prefix: Annotated[str, Meta(max_length=64)] = "ctikit:"
    cluster_lease_seconds: Annotated[float, Meta(ge=0.5, le=300)] = 3.0
    node_id: (
        Annotated[
            str, Meta(pattern=r"^[A-Za-z0-9._-]{1,64}$", description="1 to 64 of A-Z a-z 0-9 . _ -")
        ]
        | None
    ) = None
    cluster_nodes: tuple[HttpUrl, ...] = ()  # every node's public URL: consoles fail over
    # Webhooks (docs/webhooks.md): attempts per delivery, then a dead letter; the first
    # retry's delay in seconds, doubling up to the longest; a receiver's time to answer.
    webhook_max_attempts: Annotated[int, Meta(ge=1, le=1000)] = 20
    webhook_retry_seconds: Annotated[float, Meta(ge=0.01, le=86400)] = 1.0
    webhook_retry_max_seconds: Annotated[float, Meta(ge=0.01, le=86400)] = 3600.0
    webhook_timeout: Annotated[float, Meta(ge=0.1, le=300)] = 10.0
    # The audit log (docs/monitoring.md): entries older than this are deleted; 0 keeps all.
    audit_retention_days: Annotated[int, Meta(ge=0, le=36500)] = 365
    components: tuple[ComponentConfig, ...] = ()
    agents: tuple[AgentConfig, ...] = ()
    users: tuple[UserConfig, ...] = ()
    limits: Limits = field(default_factory=Limits)
    workspace: WorkspaceConfig = field(default_factory=WorkspaceConfig)
    screen_pops: tuple[ScreenPopConfig, ...] = ()
    open_cti: OpenCtiConfig = field(default_factory=OpenCtiConfig)
    agent_state: AgentStateConfig = field(default_factory=AgentStateConfig)
    supervisor: SupervisorConfig = field(default_factory=SupervisorConfig)
    console: ConsoleConfig = field(default_factory=ConsoleConfig)

    def with_overrides(self, **changes: Any) -> Config:
        """A copy with the changes that are not None (unchecked: use :func:`apply_flags`
        for values from a user)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


# ----------------------------------------------------------------- the file's schema

ARRAY_SECTIONS = ("agents", "components", "users", "screen_pops")
TABLE_SECTIONS = (
    "server",
    "limits",
    "workspace",
    "open_cti",
    "agent_state",
    "supervisor",
    "console",
)
# Limits live in the core (without ranges); a limit missing here is only checked >= 0 and a
# test fails until it gets its range.
LIMIT_RANGES: dict[str, tuple[int, int]] = {
    "max_active_calls": (1, 1000),
    "max_data_bytes": (2, 16 * 1024 * 1024),
    "max_id_length": (1, 255),  # IDs, labels and dispositions are VARCHAR(255) columns
    "max_label_length": (1, 255),
    "max_disposition_length": (1, 255),
    "max_pending_data": (1, 10_000),
    "max_recent_ended": (1, 10_000),
    "event_log_size": (1, 1_000_000),
    "event_log_bytes": (0, 1024**3),
    "agent_memory_bytes": (64 * 1024, 16 * 1024**3),
    "server_memory_bytes": (1024 * 1024, 1024**4),
    "max_agents": (1, 10_000_000),
    "call_log_saves_per_minute": (1, 1_000_000),
}


def _strict(
    cls: type[Any],
    name: str,
    *,
    only: Sequence[str] | None = None,
    types: Mapping[str, Any] | None = None,
) -> type[msgspec.Struct]:
    """The file's schema for the dataclass ``cls``: its fields (or ``only`` those), their
    annotated types (or ``types``' instead), defaults, and unknown keys refused."""
    hints = {**typing.get_type_hints(cls, include_extras=True), **(types or {})}
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    for f in dataclasses.fields(cls):
        if only is not None and f.name not in only:
            continue
        if f.default is not dataclasses.MISSING:
            fields.append((f.name, hints[f.name], f.default))
        elif f.default_factory is not dataclasses.MISSING:
            fields.append((f.name, hints[f.name], msgspec.field(default_factory=f.default_factory)))
        else:
            fields.append((f.name, hints[f.name]))
    return msgspec.defstruct(name, fields, kw_only=True, forbid_unknown_fields=True)


def _limit_types() -> dict[str, Any]:
    ranged = {}
    for name, kind in typing.get_type_hints(Limits).items():
        low, high = LIMIT_RANGES.get(name, (0, None))
        ranged[name] = Annotated[kind, Meta(ge=low, le=high)]
    return ranged


SERVER_KEYS = tuple(
    f.name for f in dataclasses.fields(Config) if f.name not in ARRAY_SECTIONS + TABLE_SECTIONS
)
_Server = _strict(Config, "server", only=SERVER_KEYS)
_Limits = _strict(Limits, "limits", types=_limit_types())
_Agent = _strict(AgentConfig, "agent")
_Component = _strict(ComponentConfig, "component")
_User = _strict(UserConfig, "user")
_Workspace = _strict(WorkspaceConfig, "workspace")
_ScreenPop = _strict(ScreenPopConfig, "screen_pop")
_OpenCti = _strict(OpenCtiConfig, "open_cti")
_AgentState = _strict(AgentStateConfig, "agent_state")
_Supervisor = _strict(SupervisorConfig, "supervisor")
_Console = _strict(ConsoleConfig, "console")
_File = msgspec.defstruct(
    "file",
    [
        ("server", _Server, msgspec.field(default_factory=_Server)),
        ("limits", _Limits, msgspec.field(default_factory=_Limits)),
        ("components", tuple[_Component, ...], ()),  # type: ignore[valid-type]
        ("agents", tuple[_Agent, ...], ()),  # type: ignore[valid-type]
        ("users", tuple[_User, ...], ()),  # type: ignore[valid-type]
        ("workspace", _Workspace, msgspec.field(default_factory=_Workspace)),
        ("screen_pops", tuple[_ScreenPop, ...], ()),  # type: ignore[valid-type]
        ("open_cti", _OpenCti, msgspec.field(default_factory=_OpenCti)),
        ("agent_state", _AgentState, msgspec.field(default_factory=_AgentState)),
        ("supervisor", _Supervisor, msgspec.field(default_factory=_Supervisor)),
        ("console", _Console, msgspec.field(default_factory=_Console)),
    ],
    kw_only=True,
    forbid_unknown_fields=True,
)
SECTIONS: dict[str, type[msgspec.Struct]] = {
    "[server]": _Server,
    "[limits]": _Limits,
    "[[agents]]": _Agent,
    "[[components]]": _Component,
    "[[users]]": _User,
    "[workspace]": _Workspace,
    "[[screen_pops]]": _ScreenPop,
    "[open_cti]": _OpenCti,
    "[agent_state]": _AgentState,
    "[supervisor]": _Supervisor,
    "[console]": _Console,
}
"""Each section's schema (docs/configuration.md lists the same keys)."""
_FILE_TYPE = mi.type_info(_File)

KeyName = Callable[[Path_], str]


def file_key(path: Path_) -> str:
    """``[server].port``, ``[[agents]]#2.id`` (entries count from 1), ``[sever]``."""
    if not path:
        return "the file"
    head, rest = str(path[0]), path[1:]
    if head in ARRAY_SECTIONS:
        text = f"[[{head}]]"
    elif head in TABLE_SECTIONS:
        text = f"[{head}]"
    else:
        text = bare_key(head)
    for part in rest:
        text += f"#{part + 1}" if isinstance(part, int) else f".{bare_key(part)}"
    return text


# ----------------------------------------------------------------- loading


def load_config(path: str | Path) -> Config:
    """Read and check a TOML config file (see docs/configuration.md)."""
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot read the config file: {exc.strerror or exc}; check the --config path"
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file (TOML is UTF-8)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return config_from_dict(raw, str(path))


def config_from_dict(raw: Mapping[str, Any], where: str = "config") -> Config:
    """Check a parsed config file; ``where`` (the file's name) starts every error."""
    file: Any = _convert(raw, _File, _FILE_TYPE, file_key, where)
    asdict = msgspec.structs.asdict
    config = Config(
        **asdict(file.server),
        components=tuple(ComponentConfig(**asdict(c)) for c in file.components),
        agents=tuple(AgentConfig(**asdict(a)) for a in file.agents),
        users=tuple(UserConfig(**asdict(u)) for u in file.users),
        limits=Limits(**asdict(file.limits)),
        workspace=WorkspaceConfig(**asdict(file.workspace)),
        screen_pops=tuple(ScreenPopConfig(**asdict(p)) for p in file.screen_pops),
        open_cti=OpenCtiConfig(**asdict(file.open_cti)),
        agent_state=AgentStateConfig(**asdict(file.agent_state)),
        supervisor=SupervisorConfig(**asdict(file.supervisor)),
        console=ConsoleConfig(**asdict(file.console)),
    )
    config = _normalised(config)
    _check_rules(config, lambda p: f"{where}: {file_key(p)}")
    return config


def apply_flags(
    config: Config,
    flags: Mapping[str, Any],
    names: Mapping[str, str],
    *,
    where: str,
    components: Sequence[str] = (),
) -> Config:
    """``config`` with the ``[server]`` keys in ``flags`` (None: not given) and the
    ``--component NAME=URL`` values added, all checked as the file is. ``names`` maps a key to
    its flag for errors; ``where`` names the file the rest came from."""
    given = {k: v for k, v in flags.items() if v is not None}

    def flag_key(path: Path_) -> str:
        name = str(path[0])
        return names.get(name, f"--{name.replace('_', '-')}")

    server: Any = _convert(given, _Server, mi.type_info(_Server), flag_key, None)
    changes = {k: getattr(server, k) for k in given}
    extra = tuple(parse_component(c) for c in components)
    if extra:
        changes["components"] = config.components + extra
    merged = _normalised(replace(config, **changes))
    file_components = len(config.components)

    def key(path: Path_) -> str:
        if path[0] == "components" and isinstance(path[1], int) and path[1] >= file_components:
            return f"--component {components[path[1] - file_components]!r}"
        if path[0] == "server" and path[1] in given:
            return names.get(str(path[1]), str(path[1]))
        return f"{where}: {file_key(path)}"

    _check_rules(merged, key)
    return merged


def parse_component(text: str) -> ComponentConfig:
    """``NAME=URL`` from the command line."""
    name, sep, url = text.partition("=")
    if not sep or not name or not url:
        raise ConfigError(
            f"--component {text!r}: expected NAME=URL, e.g. "
            "'Caller card=https://crm.example.com/card.html'"
        )
    component = _convert(
        {"name": name, "url": url},
        _Component,
        mi.type_info(_Component),
        lambda p: f"--component {text!r}: {'.'.join(str(x) for x in p)}",
        None,
    )
    return ComponentConfig(**msgspec.structs.asdict(component))


def _normalised(config: Config) -> Config:
    nodes = tuple(n.rstrip("/") for n in config.cluster_nodes)
    return config if nodes == config.cluster_nodes else replace(config, cluster_nodes=nodes)


# ----------------------------------------------------------------- rules across keys


def _check_rules(config: Config, key: KeyName) -> None:
    for path, problem in _problems(config):
        raise ConfigError(f"{key(path)}: {problem}")


def _problems(config: Config) -> typing.Iterator[tuple[Path_, str]]:
    for i, proxy in enumerate(config.trusted_proxies):
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            yield (
                ["server", "trusted_proxies", i],
                f"{shown(proxy)} is not an IP address or network; expected e.g. 10.0.0.5 or "
                "10.0.0.0/8",
            )
    for section, entries, key in (
        ("agents", config.agents, "id"),
        ("agents", config.agents, "extension"),
        ("users", config.users, "username"),
    ):
        first: dict[object, int] = {}
        for i, entry in enumerate(entries):
            value = getattr(entry, key)
            if value is None:
                continue
            if value in first:
                yield (
                    [section, i, key],
                    f"{shown(value)} is also the {key} of {file_key([section, first[value]])}; "
                    f"each {key} once",
                )
            first.setdefault(value, i)
    if config.examples_dir is not None and not Path(config.examples_dir).is_dir():
        yield (
            ["server", "examples_dir"],
            f"no directory {shown(config.examples_dir)} (relative paths start at "
            f"{os.getcwd()}); expected the folder to serve at /examples/",
        )
    for i, component in enumerate(config.components):
        if component.url.startswith("/examples/") and config.examples_dir is None:
            yield (
                ["components", i, "url"],
                f"{shown(component.url)} is under /examples/, which is served only when "
                "[server].examples_dir is set; set it or use another URL",
            )
    softphone = config.open_cti.softphone_url
    if softphone is not None and softphone.startswith("/examples/") and config.examples_dir is None:
        yield (
            ["open_cti", "softphone_url"],
            f"{shown(softphone)} is under /examples/, which is served only when "
            "[server].examples_dir is set; set it or use another URL",
        )
    if config.connector == "sip" and not any(a.extension for a in config.agents):
        yield (
            ["server", "connector"],
            '"sip" needs [[agents]] with an extension each (their phones get those numbers)',
        )
    for i, pop in enumerate(config.screen_pops):
        if problem := screenpops.check(pop):
            yield ["screen_pops", i, problem[0]], problem[1]
    if config.connector == "webrtc" and not config.demo:  # the demo runs its own lab
        for key in ("webrtc_ws_url", "webrtc_domain"):
            if getattr(config, key) is None:
                yield ["server", key], '"webrtc" needs it (where the consoles register)'
        for i, a in enumerate(config.agents):
            if a.extension is not None and a.sip_password is None:
                yield (
                    ["agents", i, "sip_password"],
                    '"webrtc" needs it for an agent with an extension (its digest password)',
                )
        if not any(a.extension for a in config.agents):
            yield ["server", "connector"], '"webrtc" needs [[agents]] with an extension each'
    if config.scenario is not None and config.connector != "sim":
        yield (
            ["server", "scenario"],
            f'a scenario needs connector = "sim" (the simulator), not {shown(config.connector)}',
        )


# ----------------------------------------------------------------- msgspec's refusals


_AT = re.compile(r" - at `\$(?P<path>.*)`$")
_PATH_PART = re.compile(r"\.([^.\[]+)|\[(\d+)\]")
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<name>.*)`", re.DOTALL)
_MISSING = re.compile(r"^Object missing required field `(?P<name>.*)`", re.DOTALL)


def _convert(raw: Any, target: Any, info: mi.Type, key: KeyName, where: str | None) -> Any:
    try:
        return msgspec.convert(raw, target)
    except msgspec.ValidationError as exc:
        text = _explain(str(exc), raw, info, key)
        raise ConfigError(f"{where}: {text}" if where else text) from None


def _explain(message: str, raw: Any, info: mi.Type, key: KeyName) -> str:
    """msgspec's refusal as ``KEY: what is wrong; what is expected``. Only the path and the
    kind of refusal come from msgspec's text; the rest is from the schema and the value."""
    m = _AT.search(message)  # (field names in paths are the schema's: no odd characters)
    path: Path_ = []
    if m:
        message = message[: m.start()]
        for name, index in _PATH_PART.findall(m.group("path")):
            path.append(int(index) if index else name)
    node, value = type_at(info, path), value_at(raw, path)
    if unknown := _UNKNOWN.match(message):
        return _unknown(path, unknown.group("name"), node, value, key)
    if len(path) == 1 and path[0] in ARRAY_SECTIONS and isinstance(value, dict):
        return f"[{path[0]}]: write [[{path[0]}]], one such table per entry"
    if missing := _MISSING.match(message):
        name = missing.group("name")
        field_type = next(f.type for f in fields_of(node) if f.name == name)
        return f"{key([*path, name])}: missing; expected {describe(field_type)}"
    hint = ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if isinstance(plain(node), mi.StrType):
            hint = f' (write it in quotes: "{value}")'
    return f"{key(path)}: expected {describe(node)}, got {shown(value)}{hint}"


def _unknown(path: Path_, name: str, node: mi.Type, value: Any, key: KeyName) -> str:
    known = [f.name for f in fields_of(node)]
    child = value.get(name) if isinstance(value, dict) else None
    if path:
        shown = key([*path, name])
        guess = difflib.get_close_matches(name, known, n=1)
        return (
            f"{shown}: unknown key{f'; did you mean {guess[0]}?' if guess else ''} "
            f"(known: {', '.join(known)})"
        )
    sections = [f"[[{s}]]" if s in ARRAY_SECTIONS else f"[{s}]" for s in known]
    listed = f"the sections are {', '.join(sections)}"
    if isinstance(child, dict | list):
        guess = difflib.get_close_matches(name, known, n=1)
        if guess:
            listed = f"did you mean {file_key([guess[0]])}? {listed}"
        section = f"[[{bare_key(name)}]]" if isinstance(child, list) else f"[{bare_key(name)}]"
        return f"{section}: unknown section; {listed}"
    if name in SERVER_KEYS:
        return f"{name}: outside any section; put it under [server]"
    return f"{bare_key(name)}: unknown key outside any section; {listed}"


DEMO_AGENTS = (
    AgentConfig(id="agent1", extension="1001", name="Alice Agent"),
    AgentConfig(id="agent2", extension="1002", name="Bob Agent"),
    AgentConfig(id="agent3", extension="1003", name="Carol Agent"),
)
