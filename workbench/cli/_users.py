"""`workbench users …`: local identities and roles in the review store."""

from __future__ import annotations

import argparse
import getpass
import sys

from workbench.cli._auth import add_credentials, audited_refusals
from workbench.cli._common import add_db_option, db_path, stdin_is_interactive
from workbench.errors import StoreError

#: Demo-only identities created by `workbench users demo` (`make run`). Never use in production.
DEMO_USERS: tuple[tuple[str, str, str], ...] = (
    ("alice", "product_owner", "Alice (product owner)"),
    ("bob", "data_scientist", "Bob (data scientist)"),
    ("carol", "data_governance", "Carol (data governance)"),
    ("dave", "security", "Dave (security)"),
    ("erin", "legal", "Erin (legal)"),
    ("frank", "operations", "Frank (operations)"),
    ("grace", "reviewer", "Grace (SME reviewer)"),
    ("victor", "validator", "Victor (independent validator)"),
    ("admin", "admin", "Admin"),
)


def demo_password(name: str) -> str:
    """The fixed demo password of a demo user (demo only)."""
    return f"demo-{name}-pass"


def cli_actor() -> str:
    """Audit actor for commands run from a shell: ``cli:<OS user>``."""
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # noqa: BLE001 - getuser raises several types when no name is known
        return "cli:unknown"


def _read_password(args: argparse.Namespace) -> str | None:
    if args.new_password_stdin:
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
        if not password:
            raise StoreError("--password-stdin: stdin gave an empty line; pipe the password in")
        return password
    if args.no_password:
        return None
    if not stdin_is_interactive():
        raise StoreError(
            f"users add {args.name}: stdin is not a terminal; pass --password-stdin and pipe the "
            "password, or --no-password for a user who cannot log in"
        )
    first = getpass.getpass(f"Password for {args.name}: ")
    if first != getpass.getpass("Repeat the password: "):
        raise StoreError("the two passwords differ; run the command again")
    return first


def _open(args: argparse.Namespace, *, create: bool = True):
    from workbench.store import Store

    return Store.open(db_path(args), create=create)


def _admin(store, args: argparse.Namespace, command: str):
    """The authenticated admin running ``command`` (credentials as for every write)."""
    from workbench.cli._auth import authenticate

    user = authenticate(store, args, command=command)
    store.authorize(user, "manage_users", subject=f"user:{getattr(args, 'name', None) or '?'}")
    return user


@audited_refusals("users add")
def _add(args: argparse.Namespace) -> int:
    with _open(args) as store:
        # How a store is born: on an empty store the first admin needs no credentials.
        bootstrap = not store.list_users() and "admin" in args.role
        actor = cli_actor() if bootstrap else _admin(store, args, "users add")
        password = _read_password(args)
        user = store.add_user(args.name, args.role, password=password,
                              display_name=args.display_name, actor=actor)
    print(f"added {user.label}" + ("" if user.has_password else " (no password: cannot log in)"))
    return 0


def _list(args: argparse.Namespace) -> int:
    with _open(args, create=False) as store:
        users = store.list_users()
    if not users:
        print("no users yet; add one with `workbench users add NAME --role ROLE`")
        return 0
    width = max(len(u.name) for u in users)
    for u in users:
        state = "active" if u.active else "disabled"
        print(f"{u.name:<{width}}  {state:<8}  {','.join(u.roles):<30}  {u.display_name}")
    return 0


@audited_refusals("users disable")
def _disable(args: argparse.Namespace) -> int:
    with _open(args, create=False) as store:
        admin = _admin(store, args, "users disable")
        user = store.disable_user(args.name, actor=admin)
    print(f"disabled {user.label}")
    return 0


@audited_refusals("users unlock")
def _unlock(args: argparse.Namespace) -> int:
    with _open(args, create=False) as store:
        admin = _admin(store, args, "users unlock")
        store.unlock_user(args.name, actor=admin)
    print(f"unlocked sign-in for {args.name}")
    return 0


@audited_refusals("users demo")
def _demo(args: argparse.Namespace) -> int:
    created = []
    with _open(args) as store:
        # Public demo passwords exist only in a store created as a demo store: the first
        # `users demo` on a new (empty) store marks it; any other store is refused.
        store.mark_demo(actor=cli_actor())
        for name, role, display in DEMO_USERS:
            if store.get_user(name) is None:
                store.add_user(name, [role], password=demo_password(name), display_name=display,
                               actor=cli_actor())
                created.append(name)
    print("DEMO ONLY - fixed, public passwords; never use these users outside a local demo:")
    for name, role, _ in DEMO_USERS:
        mark = "created" if name in created else "exists"
        print(f"  {name + ' (' + role + ')':<24}  password: {demo_password(name):<20} [{mark}]")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `users add|list|disable|demo`."""
    from workbench.auth import ROLES

    users = subparsers.add_parser("users", help="local identities and roles",
                                  description="Manage local identities and roles in the review store.")
    sub = users.add_subparsers(dest="users_command", metavar="SUBCOMMAND", required=True)

    add = sub.add_parser("add", help="add a user with one or more roles")
    add.add_argument("name", help="user name (letters, digits, . _ @ -)")
    add.add_argument("--role", action="append", required=True, choices=ROLES,
                     help="a role the user holds; repeat for several")
    add.add_argument("--display-name", default=None, help="name shown in the app and packet")
    group = add.add_mutually_exclusive_group()
    group.add_argument("--password-stdin", dest="new_password_stdin", action="store_true",
                       help="read the NEW user's password from the first line of stdin (for scripts)")
    group.add_argument("--no-password", action="store_true",
                       help="create the user without a password (cannot log in until one is set)")
    add.add_argument("--as", dest="as_user", default=None, metavar="ADMIN",
                     help="the admin adding the user, authenticated by WORKBENCH_USER/WORKBENCH_PASSWORD or a "
                          "terminal prompt (not needed for the first admin of an empty store)")
    add_db_option(add)
    add.set_defaults(func=_add)

    lst = sub.add_parser("list", help="list users, their roles and whether they are active")
    add_db_option(lst)
    lst.set_defaults(func=_list)

    dis = sub.add_parser("disable", help="disable a user (every permission check then refuses them)")
    dis.add_argument("name")
    add_credentials(dis, as_help="the admin disabling the user")
    add_db_option(dis)
    dis.set_defaults(func=_disable)

    unl = sub.add_parser("unlock", help="clear a user's failed sign-ins and lock-out (admin)")
    unl.add_argument("name")
    add_credentials(unl, as_help="the admin unlocking the user")
    add_db_option(unl)
    unl.set_defaults(func=_unlock)

    demo = sub.add_parser("demo", help="create one DEMO-ONLY user per role with fixed passwords; only in a new "
                                       "store, which it marks as a demo store (idempotent there)")
    add_db_option(demo)
    demo.set_defaults(func=_demo)
