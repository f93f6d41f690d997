"""``ctikit user ...`` and ``ctikit token ...``: manage logins in the server's database."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

from .core.access import SCOPES
from .core.errors import CtiRequestError
from .core.model import check_agent_id


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    db = argparse.ArgumentParser(add_help=False)
    db.add_argument("--database", metavar="URL", help="database (default sqlite:///ctikit.db)")
    db.add_argument("--config", metavar="FILE", help="take the database from this config")
    user = sub.add_parser("user", help="add, list or remove agents and supervisors")
    usub = user.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = usub.add_parser("add", parents=[db], help="add a user (asks for the password)")
    add.add_argument("username")
    add.add_argument("--role", choices=("agent", "supervisor"), default="agent")
    add.add_argument(
        "--agent", help="agent ID whose calls this user takes (agents: default the user name)"
    )
    add.add_argument("--team", help="team (supervisors read their team's agents)")
    add.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input instead of asking",
    )
    usub.add_parser("list", parents=[db], help="list users")
    rm = usub.add_parser("remove", parents=[db], help="remove a user (their sessions end at once)")
    rm.add_argument("username")
    for action, what in (
        ("disable", "disable a user: their sessions end at once and they cannot log in"),
        ("enable", "enable a disabled user again"),
    ):
        usub.add_parser(action, parents=[db], help=what).add_argument("username")
    passwd = usub.add_parser(
        "passwd", parents=[db], help="set a user's password (their sessions end at once)"
    )
    passwd.add_argument("username")
    passwd.add_argument("--password-stdin", action="store_true")
    hp = usub.add_parser(
        "hash-password",
        parents=[db],
        help="print an argon2 hash for a config file's [[users]] password_hash",
    )
    hp.add_argument("--password-stdin", action="store_true")

    token = sub.add_parser("token", help="service tokens for back-office callers (IVR, CRM)")
    tsub = token.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = tsub.add_parser("create", parents=[db], help="create a token; it is printed once")
    create.add_argument("name")
    create.add_argument(
        "--scope", action="append", required=True, choices=sorted(SCOPES), help="repeatable"
    )
    tsub.add_parser("list", parents=[db], help="list tokens (never their secrets)")
    revoke = tsub.add_parser("revoke", parents=[db], help="revoke a token by ID")
    revoke.add_argument("token_id")


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise SystemExit("error: the passwords differ")
    return first


def run(args: argparse.Namespace, database: str) -> int:
    from .server.auth import hash_password

    if args.command == "user" and args.action == "hash-password":
        print(hash_password(_password(args)))
        return 0
    return asyncio.run(_run(args, database, hash_password))


async def _run(args: argparse.Namespace, database: str, hash_password: object) -> int:
    from .storage import AccountStore, CallLogStore

    async with await CallLogStore.open(database) as store:
        accounts = AccountStore(store)
        try:
            return await _act(args, accounts, hash_password)
        except (ValueError, CtiRequestError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1


async def _act(args: argparse.Namespace, accounts: object, hash_password: object) -> int:
    from .storage import AccountStore

    assert isinstance(accounts, AccountStore) and callable(hash_password)
    if args.command == "user":
        if args.action == "add":
            check_agent_id(args.username)
            agent = args.agent or (args.username if args.role == "agent" else None)
            if agent:
                check_agent_id(agent)
            user = await accounts.add_user(
                args.username,
                role=args.role,
                agent_id=agent,
                team=args.team,
                password_hash=hash_password(_password(args)),
            )
            print(
                f"added {user.role} {user.username}"
                + (f" (agent {user.agent_id})" if user.agent_id else "")
                + (f", team {user.team}" if user.team else "")
            )
        elif args.action == "list":
            for u in await accounts.list_users():
                print(
                    f"{u.username}\t{u.role}\tagent={u.agent_id or '-'}\tteam={u.team or '-'}"
                    + ("\tdisabled" if u.disabled else "")
                )
        elif args.action == "remove":
            if not await accounts.remove_user(args.username):
                print(f"error: no user {args.username!r}", file=sys.stderr)
                return 1
            print(f"removed {args.username}")
        elif args.action in ("disable", "enable"):
            if not await accounts.set_disabled(args.username, args.action == "disable"):
                print(f"error: no user {args.username!r}", file=sys.stderr)
                return 1
            print(f"{args.action}d {args.username}")
        elif args.action == "passwd":
            if not await accounts.set_password(args.username, hash_password(_password(args))):
                print(f"error: no user {args.username!r}", file=sys.stderr)
                return 1
            print(f"password of {args.username} changed")
        return 0
    if args.action == "create":
        token, secret = await accounts.create_token(args.name, frozenset(args.scope))
        print(f"token {token.id} ({' '.join(sorted(token.scopes))}); shown once:")
        print(secret)
    elif args.action == "list":
        for t in await accounts.list_tokens():
            print(f"{t.id}\t{t.name}\t{' '.join(sorted(t.scopes))}\t{t.created_at:%Y-%m-%d}")
    elif args.action == "revoke":
        if not await accounts.revoke_token(args.token_id):
            print(f"error: no token {args.token_id!r}", file=sys.stderr)
            return 1
        print(f"revoked {args.token_id}")
    return 0
