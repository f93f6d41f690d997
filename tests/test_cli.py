"""The real ``ctikit`` command, tried as an operator would: every mistake is one line on
stderr saying what to do, a non-zero exit status, no traceback, and nothing created."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest

import ctikit
from ctikit.testing import CtikitProcess, free_port, run_ctikit

ROOT = Path(__file__).resolve().parents[1]
PG_URL = os.environ.get(
    "CTIKIT_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
PASSWORD = "cli-test-password"


def clean_env() -> dict[str, str]:
    """The environment without ctikit's own variables (a developer's token must not leak)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("CTIKIT_")}


def refused(cwd: Path, *args: str, status: int) -> str:
    """Run ctikit in ``cwd``; check it refused in one line and created nothing there."""
    before = sorted(p.name for p in cwd.iterdir())
    done = run_ctikit(*args, check=False, cwd=cwd, env=clean_env(), stdin="")
    assert done.returncode == status, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert sorted(p.name for p in cwd.iterdir()) == before, "it created something"
    return lines[0]


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return path.name


# --- the configuration file (issue 12, section 5)


def test_a_misspelt_section_is_named_with_the_right_one(tmp_path: Path) -> None:
    name = write(tmp_path / "ctikit.toml", "[sever]\nport = 9000\n")
    line = refused(tmp_path, "serve", "--config", name, status=2)
    assert line.startswith("error: ctikit.toml: [sever]: unknown section; did you mean [server]?")
    assert "[limits]" in line and "[[agents]]" in line and "[[users]]" in line


def test_a_port_that_is_not_a_number(tmp_path: Path) -> None:
    name = write(tmp_path / "ctikit.toml", '[server]\nport = "nineteen"\n')
    line = refused(tmp_path, "serve", "--config", name, status=2)
    assert line == 'error: ctikit.toml: [server].port: expected an integer 0-65535, got "nineteen"'


def test_a_log_level_not_in_the_list(tmp_path: Path) -> None:
    name = write(tmp_path / "ctikit.toml", '[server]\nlog_level = "verbose"\n')
    line = refused(tmp_path, "serve", "--config", name, status=2)
    assert line == (
        "error: ctikit.toml: [server].log_level: expected one of "
        '"debug", "error", "info", "warning", got "verbose"'
    )


def test_an_unknown_key_under_limits(tmp_path: Path) -> None:
    name = write(tmp_path / "ctikit.toml", "[limits]\nmax_calls = 3\n")
    line = refused(tmp_path, "serve", "--config", name, status=2)
    assert line.startswith(
        "error: ctikit.toml: [limits].max_calls: unknown key; did you mean max_active_calls? "
        "(known: max_active_calls, "
    )


def test_a_negative_limit(tmp_path: Path) -> None:
    name = write(tmp_path / "ctikit.toml", "[limits]\nmax_active_calls = -3\n")
    line = refused(tmp_path, "serve", "--config", name, status=2)
    assert line == (
        "error: ctikit.toml: [limits].max_active_calls: expected an integer 1-1000, got -3"
    )


def test_duplicate_agent_ids(tmp_path: Path) -> None:
    name = write(
        tmp_path / "ctikit.toml",
        '[[agents]]\nid = "alice"\n\n[[agents]]\nid = "bob"\n\n[[agents]]\nid = "alice"\n',
    )
    line = refused(tmp_path, "serve", "--config", name, status=2)
    assert line == (
        'error: ctikit.toml: [[agents]]#3.id: "alice" is also the id of [[agents]]#1; each id once'
    )


def test_duplicate_extensions(tmp_path: Path) -> None:
    name = write(
        tmp_path / "ctikit.toml",
        '[[agents]]\nid = "alice"\nextension = "1001"\n\n'
        '[[agents]]\nid = "bob"\nextension = "1001"\n',
    )
    line = refused(tmp_path, "serve", "--config", name, status=2)
    assert line == (
        'error: ctikit.toml: [[agents]]#2.extension: "1001" is also the extension of '
        "[[agents]]#1; each extension once"
    )


def test_a_component_under_examples_without_examples_dir(tmp_path: Path) -> None:
    name = write(
        tmp_path / "ctikit.toml",
        '[[components]]\nname = "Card"\nurl = "/examples/caller-card/index.html"\n',
    )
    line = refused(tmp_path, "serve", "--config", name, status=2)
    assert line.startswith('error: ctikit.toml: [[components]]#1.url: "/examples/caller-card/')
    assert "[server].examples_dir" in line
    line = refused(tmp_path, "serve", "--component", "Card=/examples/card.html", status=2)
    assert line.startswith("error: --component 'Card=/examples/card.html': ")
    assert "[server].examples_dir" in line


def test_a_config_file_that_is_missing_or_not_toml(tmp_path: Path) -> None:
    line = refused(tmp_path, "serve", "--config", "nope.toml", status=2)
    assert line == (
        "error: nope.toml: cannot read the config file: No such file or directory; "
        "check the --config path"
    )
    name = write(tmp_path / "ctikit.toml", "[server\n")
    line = refused(tmp_path, "serve", "--config", name, status=2)
    assert line.startswith("error: ctikit.toml: not valid TOML: ") and "line 1" in line


def test_a_scenario_that_does_not_parse_is_refused_before_start(tmp_path: Path) -> None:
    line = refused(tmp_path, "demo", "--port", "0", "--scenario", "nope.toml", status=2)
    assert line == "error: --scenario: nope.toml: cannot read: No such file or directory"


# --- the command line


def test_version_is_the_package_version() -> None:
    done = run_ctikit("--version")
    assert done.stdout == f"ctikit {ctikit.__version__}\n"
    assert metadata.version("ctikit") == ctikit.__version__  # pyproject reads __version__
    changelog = (ROOT / "CHANGELOG.md").read_text()
    newest = re.search(r"^## (\S+)", changelog, re.MULTILINE)
    assert newest is not None and newest.group(1) == ctikit.__version__


def test_serve_with_a_mistyped_option_shows_serve_usage(tmp_path: Path) -> None:
    line = refused(tmp_path, "serve", "--prot", "1", status=2)
    assert line == (
        "ctikit serve: error: unrecognized arguments: --prot 1 (did you mean --port?); "
        "see 'ctikit serve --help'"
    )
    line = refused(tmp_path, "user", "list", "--databse", "x.db", status=2)
    assert line.startswith("ctikit user list: error: unrecognized arguments: --databse x.db")
    assert "did you mean --database?" in line


def test_demo_with_an_impossible_port_writes_nothing(tmp_path: Path) -> None:
    line = refused(tmp_path, "demo", "--port", "99999", status=2)
    assert line == "error: --port: expected an integer 0-65535, got 99999"


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield int(s.getsockname()[1])


def test_a_port_in_use_is_refused_before_the_database_is_touched(
    tmp_path: Path, busy_port: int
) -> None:
    args = ("--port", str(busy_port), "--database", "calls.db")
    line = refused(tmp_path, "serve", *args, status=1)
    assert line == (
        f"error: 127.0.0.1 port {busy_port} is already in use (another ctikit?); stop that "
        "server or choose another port with --port or [server].port"
    )
    # An existing database is not migrated or opened either: its file stays as it was.
    run_ctikit("user", "add", "alice", "--password-stdin", "--database", "calls.db",
               stdin=PASSWORD + "\n", cwd=tmp_path, env=clean_env())  # fmt: skip
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    refused(tmp_path, "serve", *args, status=1)
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == before


def test_user_list_on_a_mistyped_sqlite_path_creates_nothing(tmp_path: Path) -> None:
    line = refused(tmp_path, "user", "list", "--database", "ctikti.db", status=1)
    assert line == (
        "error: no database file ctikti.db (--database); check the path "
        "(`ctikit user add` or `ctikit serve` creates one)"
    )
    name = write(tmp_path / "ctikit.toml", '[server]\ndatabase = "sqlite:///ctikti.db"\n')
    line = refused(tmp_path, "user", "list", "--config", name, status=1)
    assert "no database file ctikti.db ([server].database in ctikit.toml)" in line
    line = refused(tmp_path, "token", "revoke", "tok_1", status=1)
    assert "(the default ./ctikit.db: no --config or --database given)" in line


def test_user_list_on_a_file_that_is_not_a_ctikit_database(tmp_path: Path) -> None:
    import sqlite3

    with sqlite3.connect(tmp_path / "other.db") as db:
        db.execute("CREATE TABLE t (x)")
    line = refused(tmp_path, "user", "list", "--database", "other.db", status=1)
    assert line.startswith("error: other.db is not a ctikit database (--database)")


def test_user_list_with_postgresql_unreachable(tmp_path: Path) -> None:
    port = free_port()
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{port}/ctikit"
    line = refused(tmp_path, "user", "list", "--database", url, status=1)
    assert line.startswith(f"error: could not connect to postgresql at 127.0.0.1:{port}/ctikit")
    assert line.endswith("(--database); check the URL and that the database is up")


@pytest.mark.postgres
def test_user_list_with_a_missing_postgresql_database(tmp_path: Path) -> None:
    if os.environ.get("CTIKIT_SKIP_POSTGRES") == "1":
        pytest.skip("CTIKIT_SKIP_POSTGRES=1")
    url = PG_URL.rsplit("/", 1)[0] + "/ctikit_no_such_database"
    name = write(tmp_path / "ctikit.toml", f'[server]\ndatabase = "{url}"\n')
    line = refused(tmp_path, "user", "list", "--config", name, status=1)
    assert line == (
        "error: could not connect to postgresql at 127.0.0.1:5432/ctikit_no_such_database: "
        'database "ctikit_no_such_database" does not exist ([server].database in ctikit.toml); '
        "check the URL and that the database is up"
    )


@pytest.mark.postgres
def test_user_list_on_a_postgresql_database_without_ctikit_tables_changes_nothing(
    tmp_path: Path,
) -> None:
    if os.environ.get("CTIKIT_SKIP_POSTGRES") == "1":
        pytest.skip("CTIKIT_SKIP_POSTGRES=1")
    import asyncio
    import secrets

    import asyncpg  # type: ignore[import-untyped]

    name = f"ctikit_cli_{secrets.token_hex(4)}"
    admin = PG_URL.replace("postgresql+asyncpg", "postgresql")

    async def sql(dsn: str, statement: str) -> list[str]:
        conn = await asyncpg.connect(dsn)
        try:
            return [r[0] for r in await conn.fetch(statement)]
        finally:
            await conn.close()

    asyncio.run(sql(admin, f"CREATE DATABASE {name}"))
    try:
        url = PG_URL.rsplit("/", 1)[0] + f"/{name}"
        line = refused(tmp_path, "user", "list", "--database", url, status=1)
        assert line == (
            f"error: postgresql at 127.0.0.1:5432/{name} has no ctikit tables (--database); "
            "check the URL (`ctikit user add` or `ctikit serve` creates one)"
        )
        query = "SELECT table_name FROM information_schema.tables WHERE table_schema='public'"
        assert asyncio.run(sql(admin.rsplit("/", 1)[0] + f"/{name}", query)) == []
    finally:
        asyncio.run(sql(admin, f"DROP DATABASE {name}"))


def test_user_add_reads_the_database_from_the_config(tmp_path: Path) -> None:
    name = write(tmp_path / "ctikit.toml", '[server]\ndatabase = "sqlite:///accounts.db"\n')
    done = run_ctikit(
        "user", "add", "alice", "--password-stdin", "--config", name,
        stdin=PASSWORD + "\n", cwd=tmp_path, env=clean_env(),
    )  # fmt: skip
    assert done.stdout == "added agent alice (agent alice)\n"
    assert "created the database accounts.db ([server].database in ctikit.toml)" in done.stderr
    assert (tmp_path / "accounts.db").exists() and not (tmp_path / "ctikit.db").exists()
    listed = run_ctikit("user", "list", "--config", name, cwd=tmp_path, env=clean_env())
    assert listed.stdout.startswith("alice\tagent")


def test_user_add_checks_its_input_before_creating_the_database(tmp_path: Path) -> None:
    line = refused(tmp_path, "user", "add", "al ice", "--password-stdin", status=2)
    assert line.startswith("error: username 'al ice': must be 1 to 64 characters of letters")
    line = refused(tmp_path, "user", "add", "alice", "--password-stdin", status=2)
    assert line == "error: the password is empty"
    line = refused(tmp_path, "user", "add", "alice", status=2)  # stdin is not a terminal
    assert line == "error: no terminal to ask for the password on: give it with --password-stdin"


def test_simulate_call_without_a_token_says_how_to_give_one(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'ctikit.db'}"
    with CtikitProcess(
        ["serve", "--port", "0", "--database", database], tmp_path / "server.log",
        env=clean_env(),
    ) as server:  # fmt: skip
        line = refused(
            tmp_path, "simulate-call", "--agent", "agent1", "--server", server.url, status=1
        )
    assert line.startswith("error: log in first: no token given; ")
    assert "pass --token TOKEN or set $CTIKIT_TOKEN" in line
    assert "ctikit token create NAME --scope calls:attach" in line


def test_simulate_call_with_no_server_says_where_it_looked(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    line = refused(tmp_path, "simulate-call", "--agent", "agent1", "--server", url, status=1)
    assert line.startswith(f"error: cannot reach ctikit at {url}: ")
    assert "point --server (or $CTIKIT_URL) at it" in line


def test_an_unexpected_failure_is_still_one_line(tmp_path: Path) -> None:
    """A bug must not print a traceback either (CTIKIT_TRACEBACK=1 shows it)."""
    script = (
        "import sys, ctikit.cli as c\n"
        "def boom(args): raise RuntimeError('boom')\n"
        "c._simulate_call = boom\n"
        "sys.exit(c.main(['simulate-call', '--agent', 'a']))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=clean_env()
    )
    assert done.returncode == 70
    assert done.stderr.startswith("error: unexpected RuntimeError: boom (a bug in ctikit;")
    assert len(done.stderr.splitlines()) == 1


async def test_user_role_changes_the_role_and_is_audited_with_the_cli_user(tmp_path: Path) -> None:
    from ctikit.storage import AccountStore, CallLogStore
    from ctikit.storage.audit import AuditStore

    db = ["--database", "sqlite:///accounts.db"]
    run_ctikit("user", "add", "bob", "--password-stdin", *db,
               stdin=PASSWORD + "\n", cwd=tmp_path, env=clean_env())  # fmt: skip
    done = run_ctikit("user", "role", "bob", "supervisor", "--team", "blue", *db,
                      cwd=tmp_path, env=clean_env())  # fmt: skip
    assert done.stdout == "bob is now supervisor\n"
    line = refused(tmp_path, "user", "role", "nobody", "agent", *db, status=1)
    assert "no user 'nobody'" in line
    store = await CallLogStore.open(tmp_path / "accounts.db")
    try:
        user = await AccountStore(store).get_user("bob")
        assert user is not None and (user.role, user.agent_id, user.team) == (
            "supervisor",
            None,
            "blue",
        )
        assert user.session_generation == 1  # sessions of the old role ended
        _, entries = await AuditStore(store).query()
        assert [(e.action, e.target) for e in entries] == [
            ("user.role", "bob"),
            ("user.add", "bob"),
        ]
        assert all(e.actor.startswith("cli") for e in entries)
        assert PASSWORD not in str([e.detail for e in entries])
    finally:
        await store.close()
