"""Server configuration: a TOML file, overridden by command-line flags (cli.py)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .core.model import Limits, check_agent_id


class ConfigError(Exception):
    """The configuration is invalid; the message names the setting."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ComponentConfig:
    """A custom component the console loads in an iframe."""

    name: str
    url: str  # absolute http(s) URL, or a path on this server ("/examples/...")
    height: int = 360


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentConfig:
    id: str
    extension: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class UserConfig:
    """A user declared in the config file (added to the database at start if absent)."""

    username: str
    role: str = "agent"
    agent: str | None = None
    team: str | None = None
    password_hash: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    host: str = "127.0.0.1"
    port: int = 8080
    database: str = "sqlite:///ctikit.db"
    connector: str = "sim"  # "sim" (built-in simulator) or "sip" (kamailio + baresip lab)
    sip_lines: int = 2  # SIP: baresip lines (phones) per agent
    sip_queue: str | None = None  # SIP: a contact-centre number every agent answers
    sip_root: str | None = None  # SIP: where lab files go (default: a new temp dir)
    scenario: str | None = None
    components: tuple[ComponentConfig, ...] = ()
    agents: tuple[AgentConfig, ...] = ()
    examples_dir: str | None = None  # served at /examples/ when set
    demo: bool = False
    log_level: str = "info"
    max_frame_bytes: int = 256 * 1024
    send_queue_frames: int = 2000  # frames queued for a slow console before it is dropped
    listen_backlog: int = 4096  # pending connections the kernel keeps (reconnect storms)
    token_ttl: float = 12 * 3600  # seconds a console login lasts
    max_requests_per_second: float = 50.0  # per console socket, on average
    max_request_burst: int = 200  # requests a socket may send at once
    abuse_close_after: int = 500  # refused requests in a row before the socket is closed
    allowed_origins: tuple[str, ...] = ()  # extra origins allowed to open console sockets
    # Budgets against one client taking the server from everyone (docs/security.md).
    header_timeout: float = 10.0  # seconds to send a request's head (slowloris)
    body_timeout: float = 30.0  # seconds to send a request's body once its head is in
    idle_timeout: float = 75.0  # seconds a kept-alive HTTP connection may sit idle
    max_connections: int = 0  # open connections at once; 0: the descriptor limit less a reserve
    max_connections_per_address: int = 1000  # per client address; 0: no cap
    max_sockets_per_agent: int = 16  # console sockets of one agent ID on this node
    # Reverse proxies whose X-Forwarded-For names the client (addresses or networks).
    trusted_proxies: tuple[str, ...] = ("127.0.0.1", "::1")
    login_failures_per_user: int = 5  # failed logins per user name per login_window
    login_failures_per_address: int = 30  # failed logins per client address per login_window
    login_window: float = 60.0  # seconds failures are counted over (and a lockout lasts)
    login_concurrency: int = 0  # password checks at once; 0: one per CPU core
    login_queue: int = 8  # logins waiting for a password check; more: 503
    session_cache_seconds: float = 2.0  # how stale a session check may be (logout elsewhere)
    users: tuple[UserConfig, ...] = ()
    limits: Limits = field(default_factory=Limits)
    # Cluster mode (docs/deploy.md): nodes share call state and events through Redis.
    cluster: str | None = None  # redis://HOST:PORT/DB; None: a single node, no Redis
    cluster_prefix: str = "ctikit:"  # key prefix in Redis (several clusters, one Redis)
    cluster_lease_seconds: float = 3.0  # how soon another node takes over the connector
    node_id: str | None = None  # this node's name in logs and leases (default: random)
    cluster_nodes: tuple[str, ...] = ()  # every node's public URL: consoles fail over

    def with_overrides(self, **changes: Any) -> Config:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def parse_component(text: str) -> ComponentConfig:
    """``NAME=URL`` from the command line."""
    name, sep, url = text.partition("=")
    if not sep or not name or not url:
        raise ConfigError(f"--component wants NAME=URL, got {text!r}")
    return _component({"name": name, "url": url}, "--component")


def _component(raw: Any, where: str) -> ComponentConfig:
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        raise ConfigError(f"{where}: a component needs a name and a url")
    url = raw.get("url")
    if not isinstance(url, str) or not url:
        raise ConfigError(f"{where}: component {raw['name']!r} needs a url")
    if not url.startswith("/"):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(
                f"{where}: component {raw['name']!r} url must be http(s)://... or /path"
            )
    height = raw.get("height", 360)
    if not isinstance(height, int) or not 50 <= height <= 4000:
        raise ConfigError(f"{where}: component height must be 50..4000 pixels")
    return ComponentConfig(name=raw["name"], url=url, height=height)


def load_config(path: str | Path) -> Config:
    """Read a TOML config file (see docs/configuration.md)."""
    try:
        raw = tomllib.loads(Path(path).read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    return config_from_dict(raw, str(path))


def config_from_dict(raw: dict[str, Any], where: str = "config") -> Config:
    simple = {f.name for f in fields(Config)} - {"components", "agents", "limits", "users"}
    server = raw.get("server", {})
    if not isinstance(server, dict):
        raise ConfigError(f"{where}: [server] must be a table")
    unknown = set(server) - simple
    if unknown:
        raise ConfigError(f"{where}: unknown setting server.{sorted(unknown)[0]}")
    kwargs: dict[str, Any] = dict(server)
    comps = raw.get("components", [])
    if not isinstance(comps, list):
        raise ConfigError(f"{where}: [[components]] must be an array of tables")
    kwargs["components"] = tuple(_component(c, where) for c in comps)
    agents = raw.get("agents", [])
    if not isinstance(agents, list):
        raise ConfigError(f"{where}: [[agents]] must be an array of tables")
    parsed_agents = []
    for a in agents:
        if not isinstance(a, dict) or "id" not in a:
            raise ConfigError(f"{where}: every [[agents]] entry needs an id")
        try:
            check_agent_id(a["id"])
        except Exception as exc:
            raise ConfigError(f"{where}: agent {a['id']!r}: {exc}") from None
        parsed_agents.append(
            AgentConfig(id=a["id"], extension=a.get("extension"), name=a.get("name"))
        )
    kwargs["agents"] = tuple(parsed_agents)
    if "cluster_nodes" in kwargs:
        nodes = kwargs["cluster_nodes"]
        if not isinstance(nodes, list) or not all(
            isinstance(n, str) and n.startswith(("http://", "https://")) for n in nodes
        ):
            raise ConfigError(f"{where}: server.cluster_nodes must be a list of http(s) URLs")
        kwargs["cluster_nodes"] = tuple(n.rstrip("/") for n in nodes)
    if "allowed_origins" in kwargs:
        origins = kwargs["allowed_origins"]
        if not isinstance(origins, list) or not all(isinstance(o, str) for o in origins):
            raise ConfigError(f"{where}: server.allowed_origins must be a list of origins")
        kwargs["allowed_origins"] = tuple(origins)
    if "trusted_proxies" in kwargs:
        proxies = kwargs["trusted_proxies"]
        if not isinstance(proxies, list) or not all(isinstance(p, str) for p in proxies):
            raise ConfigError(f"{where}: server.trusted_proxies must be a list of addresses")
        kwargs["trusted_proxies"] = tuple(proxies)
    users = raw.get("users", [])
    if not isinstance(users, list):
        raise ConfigError(f"{where}: [[users]] must be an array of tables")
    parsed_users = []
    for u in users:
        if not isinstance(u, dict) or not isinstance(u.get("username"), str):
            raise ConfigError(f"{where}: every [[users]] entry needs a username")
        if not str(u.get("password_hash", "")).startswith("$argon2"):
            raise ConfigError(
                f"{where}: user {u['username']!r} needs a password_hash made by "
                "`ctikit user hash-password` (argon2)"
            )
        if u.get("role", "agent") not in ("agent", "supervisor"):
            raise ConfigError(f"{where}: user {u['username']!r}: role is agent or supervisor")
        try:
            parsed_users.append(UserConfig(**u))
        except TypeError as exc:
            raise ConfigError(f"{where}: user {u['username']!r}: {exc}") from None
    kwargs["users"] = tuple(parsed_users)
    limits = raw.get("limits", {})
    if not isinstance(limits, dict):
        raise ConfigError(f"{where}: [limits] must be a table")
    try:
        kwargs["limits"] = Limits(**limits)
    except TypeError as exc:
        raise ConfigError(f"{where}: [limits]: {exc}") from None
    try:
        return Config(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from None


DEMO_AGENTS = (
    AgentConfig(id="agent1", extension="1001", name="Alice Agent"),
    AgentConfig(id="agent2", extension="1002", name="Bob Agent"),
    AgentConfig(id="agent3", extension="1003", name="Carol Agent"),
)
