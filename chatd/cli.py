"""The ``chatd`` command: serve, web, worker, migrate, copy-db, supporters, purge (CONTRACT.md sections 1 and 8)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import signal
import sys
from collections.abc import AsyncIterator, Coroutine, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import uvicorn
from redis.exceptions import RedisError
from starlette.applications import Starlette

from chatd.app import create_app
from chatd.embedded_redis import EmbeddedRedis, EmbeddedRedisError, running_url
from chatd.redis_client import close_redis, connect_redis
from chatd.roster import end_sessions
from chatd.stats import BadRange, figures, parse_range, to_table
from config.logging import configure_logging, get_logger
from config.settings import Settings, SettingsError, check_database_url
from config.textrules import NOT_TEXT, find_unencodable
from peers import accounts
from peers.errors import InvalidAccount, PeersError
from peers.sessions import Sessions
from records import Records, RecordsError, SchemaMismatch, open_records
from records.copy import TargetNotEmpty, copy_records
from records.keyspace import Keys
from routing.archive import purge

log = get_logger("chatd.cli")
MAX_WS_FRAME = 64 * 1024


class _Server(uvicorn.Server):
    """uvicorn's server without its signal re-raise: after a graceful shutdown uvicorn raises
    the captured SIGTERM again with the default handler, which ends the process before
    ``serve`` can stop its embedded Redis. Here SIGTERM/SIGINT only ask the server to exit."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _uvicorn(app: Starlette, settings: Settings) -> uvicorn.Server:
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, log_config=None, access_log=False,
        ws_max_size=MAX_WS_FRAME,
        # Per-message deflate costs ~300 KiB per socket; chat frames are small.
        ws_per_message_deflate=False, lifespan="on", server_header=False,
        timeout_graceful_shutdown=10)
    return _Server(config)


def _run_server(settings: Settings, redis_url: str | None, *, web: bool, worker: bool) -> int:
    # serve migrates by itself; web (and worker, below) checked the schema before starting.
    app = create_app(settings, redis_url, run_worker=worker, run_web=web, schema="migrate" if worker else "check",
                     freeze_gc=True)
    server = _uvicorn(app, settings)
    log.info("server.listening", url=f"http://{settings.host}:{settings.port}", public_url=settings.public_url)
    server.run()
    return 0 if server.started else 1


def _run_loop(main: Coroutine[Any, Any, int]) -> int:
    """Run a long-lived process on the loop uvicorn picks for ``web`` ("auto"): uvloop when installed."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


async def _worker_main(settings: Settings, redis_url: str | None) -> int:
    """The worker process: the same lifespan as the web app, no HTTP listener; stops on SIGTERM."""
    app = create_app(settings, redis_url, run_worker=True, run_web=False, schema="check", freeze_gc=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with app.router.lifespan_context(app):
        await stop.wait()
    return 0


def cmd_serve(settings: Settings) -> int:
    embedded: EmbeddedRedis | None = None
    redis_url = settings.redis_url
    if settings.embedded_redis:
        embedded = EmbeddedRedis(settings.data_dir)
        redis_url = embedded.start()
        log.info("redis.embedded_started", dir=str(embedded.dir))
    try:
        if settings.demo_account:
            asyncio.run(_ensure_demo_account(settings))
        return _run_server(settings, redis_url, web=True, worker=True)
    finally:
        if embedded is not None:
            embedded.stop()
            log.info("redis.embedded_stopped")


async def _ensure_demo_account(settings: Settings) -> None:
    """On embedded defaults only: a demo supervisor, so a newcomer can try both sides at once."""
    store = await open_records(settings.database, **settings.records_options)
    try:
        if await store.list_supporters():
            return
        password = secrets.token_urlsafe(12)
        await accounts.create(store, "demo", "Demo Peer", "supervisor", True, password)
        print(f"\n  Demo supervisor account created (embedded defaults only):\n"
              f"    console: {settings.public_url}/console   username: demo   password: {password}\n"
              f"  Seeker chat window: {settings.public_url}/\n", flush=True)
    finally:
        await store.close()


def _require_redis(settings: Settings, command: str) -> None:
    if settings.embedded_redis:
        raise SettingsError(f"'chatd {command}' is for deployments with a real Redis: set CHATD_REDIS_URL "
                            "or CHATD_REDIS_SENTINELS (or use 'chatd serve', which embeds one)")


@contextlib.asynccontextmanager
async def _open_store(settings: Settings) -> AsyncIterator[Records]:
    store = await open_records(settings.database, **settings.records_options)
    try:
        yield store
    finally:
        await store.close()


async def _kick_user(settings: Settings, username: str) -> None:
    """End a disabled account's sessions and close its sockets, if the service is running."""
    url: str | None = None
    if settings.embedded_redis:
        url = running_url(settings.data_dir)
        if url is None:
            return  # no embedded Redis runs: the service is stopped, nothing to close
    redis = connect_redis(settings, url)
    try:
        keys = Keys(settings.key_prefix)
        await end_sessions(redis, keys, Sessions(redis, keys, settings.secret_key, settings.session_ttl_s), username)
    finally:
        await close_redis(redis)


def _read_password() -> str:
    """The first line of standard input, decoded as UTF-8 whatever the locale says.

    Read as bytes: the text layer would raise UnicodeDecodeError on invalid UTF-8, or, in the C
    locale's UTF-8 mode, let it through as lone surrogates that fail later, in the hashing.
    """
    raw = sys.stdin.buffer.readline()
    try:
        return raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        raise InvalidAccount("the password on standard input is not valid UTF-8 text") from None


async def cmd_supporters(settings: Settings, args: argparse.Namespace) -> int:
    password = ""
    if args.action == "add":
        if not args.password_stdin:
            print("chatd: give the password on standard input with --password-stdin", file=sys.stderr)
            return 2
        languages = accounts.parse_languages(args.languages)
        password = _read_password()  # before the database is opened: a bad one writes nothing
    async with _open_store(settings) as store:
        if args.action == "add":
            await accounts.create(store, args.username, args.display_name, args.role, args.trained, password,
                                  languages)
            print(f"added {args.username} ({args.role}{', trained' if args.trained else ''}; "
                  f"speaks {','.join(languages)})")
        elif args.action == "list":
            for s in await store.list_supporters():
                flags = ", ".join(f for f, on in (("trained", s.trained), ("disabled", s.disabled)) if on)
                print(f"{s.username}\t{s.display_name}\t{s.role}\t{','.join(s.languages)}\t{flags}")
        elif args.action == "set-trained":
            await accounts.set_flags(store, args.username, trained=True)
            print(f"{args.username} is marked trained")
        elif args.action == "disable":
            await accounts.set_flags(store, args.username, disabled=True)
            await _kick_user(settings, args.username)
            print(f"{args.username} is disabled; its sessions have ended")
    return 0


async def cmd_stats(settings: Settings, args: argparse.Namespace) -> int:
    """Print the figures of /api/stats as a table; live conversations count when the service's
    Redis answers."""
    try:
        first, last = parse_range(args.start, args.end)
    except BadRange as exc:
        print(f"chatd: {exc}", file=sys.stderr)
        return 2
    # The service's Redis (through Sentinel if set); with embedded defaults, only while it runs.
    embedded_url = running_url(settings.data_dir) if settings.embedded_redis else None
    running = not settings.embedded_redis or embedded_url is not None
    redis = connect_redis(settings, embedded_url) if running else None
    try:
        async with _open_store(settings) as store:
            try:
                result = await figures(store, redis, Keys(settings.key_prefix), first, last,
                                       ZoneInfo(settings.timezone))
            except RedisError:
                print("chatd: Redis did not answer: live conversations are not counted", file=sys.stderr)
                result = await figures(store, None, Keys(settings.key_prefix), first, last,
                                       ZoneInfo(settings.timezone))
    finally:
        if redis is not None:
            await close_redis(redis)
    print(to_table(result), end="")
    return 0


async def cmd_migrate(settings: Settings) -> int:
    """Create or upgrade the database's schema, and say what was done."""
    store = await open_records(settings.database, **settings.records_options, schema="any")
    try:
        before = await store.schema_version()
        applied = await store.migrate()
    finally:
        await store.close()
    if not applied:
        print(f"database schema is up to date (version {before})")
    else:
        print(f"database schema upgraded from version {before} to {applied[-1].version}: "
              f"applied {', '.join(m.label for m in applied)}")
    return 0


async def cmd_copy_db(settings: Settings, to: str, resume: bool) -> int:
    """Copy every record of CHATD_DATABASE into the database at ``to`` (a SQLite path or a
    postgresql:// URL), printing one line of counts per table."""
    if isinstance(settings.database, Path) and not settings.database.is_file():
        # Opening it would make an empty database to copy from.
        raise SettingsError(f"CHATD_DATABASE: there is no SQLite database at {settings.database} to copy")
    target_db: str | Path = check_database_url(to, "--to") if "://" in to else Path(to)
    source = await open_records(settings.database, **settings.records_options, schema="check")
    try:
        # "any": the copy migrates the target itself, after checking the source.
        target = await open_records(target_db, **settings.records_options, schema="any")
        try:
            copied = await copy_records(source, target, resume=resume)
        finally:
            await target.close()
    finally:
        await source.close()
    for table in copied:
        print(f"{table.table}: {table.source} in the source, {table.inserted} copied, {table.target} in the target")
    print("copy complete" if all(t.source == t.target for t in copied)
          else "copy complete; the counts differ: the source changed during the copy (run it again with --resume)")
    return 0


async def _check_schema(settings: Settings) -> None:
    """Raise SchemaMismatch (one line naming ``chatd migrate``) unless the schema is this code's."""
    store = await open_records(settings.database, **settings.records_options, schema="check")
    await store.close()


async def cmd_purge(settings: Settings) -> int:
    async with _open_store(settings) as store:
        deleted = await purge(store, settings)
    print(f"deleted {deleted} message texts of conversations ended more than "
          f"{settings.retention_days} days ago")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chatd", description="Real-time chat and text peer support.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="web server and worker in one process "
                   "(embedded Redis unless CHATD_REDIS_URL or CHATD_REDIS_SENTINELS)")
    sub.add_parser("web", help="the web process (needs CHATD_REDIS_URL or CHATD_REDIS_SENTINELS)")
    sub.add_parser("worker", help="the background worker (needs CHATD_REDIS_URL or CHATD_REDIS_SENTINELS)")
    sub.add_parser("migrate", help="create or upgrade the database's schema")
    sub.add_parser("purge", help="apply the retention policy now")
    copy = sub.add_parser("copy-db", help="copy every record of CHATD_DATABASE into an empty database")
    copy.add_argument("--to", required=True, metavar="URL",
                      help="the target: a postgresql:// URL (or a SQLite file path); migrated first")
    copy.add_argument("--resume", action="store_true",
                      help="finish an interrupted copy into this target (rows already there are kept)")
    stats = sub.add_parser("stats", help="program statistics for a range of days (as /api/stats)")
    stats.add_argument("--from", dest="start", required=True, help="first day, YYYY-MM-DD (CHATD_TIMEZONE)")
    stats.add_argument("--to", dest="end", required=True, help="last day, YYYY-MM-DD, inclusive")
    sup = sub.add_parser("supporters", help="peer supporter accounts")
    ssub = sup.add_subparsers(dest="action", required=True)
    add = ssub.add_parser("add", help="create an account (password on standard input)")
    add.add_argument("username")
    add.add_argument("--display-name", required=True)
    add.add_argument("--role", choices=accounts.ROLES, default="peer")
    add.add_argument("--trained", action="store_true")
    add.add_argument("--languages", default=",".join(accounts.LANGUAGES),
                     help="the languages the account takes chats in: en, fr or en,fr (default)")
    add.add_argument("--password-stdin", action="store_true")
    ssub.add_parser("list", help="list accounts")
    for name in ("set-trained", "disable"):
        p = ssub.add_parser(name)
        p.add_argument("username")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # POSIX hands Python argv bytes that are not UTF-8 as lone surrogates (surrogateescape);
    # such a display name or username would fail in SQLite, after the database was opened.
    bad = find_unencodable(vars(args))
    if bad is not None:
        print(f"chatd: {bad.replace('_', '-')} is {NOT_TEXT}: check the terminal's encoding",
              file=sys.stderr)
        return 2
    try:
        settings = Settings.from_env(cwd=Path.cwd())
        configure_logging(settings.log_format, settings.log_level)
        if args.command == "serve":
            return cmd_serve(settings)
        if args.command == "migrate":
            return asyncio.run(cmd_migrate(settings))
        if args.command == "web":
            _require_redis(settings, "web")
            asyncio.run(_check_schema(settings))
            return _run_server(settings, None, web=True, worker=False)
        if args.command == "worker":
            _require_redis(settings, "worker")
            asyncio.run(_check_schema(settings))
            return _run_loop(_worker_main(settings, None))
        if args.command == "supporters":
            return asyncio.run(cmd_supporters(settings, args))
        if args.command == "stats":
            return asyncio.run(cmd_stats(settings, args))
        if args.command == "purge":
            return asyncio.run(cmd_purge(settings))
        if args.command == "copy-db":
            return asyncio.run(cmd_copy_db(settings, args.to, args.resume))
    except (SettingsError, EmbeddedRedisError, PeersError, SchemaMismatch, TargetNotEmpty) as exc:
        print(f"chatd: {exc}", file=sys.stderr)
        return 2
    except RecordsError as exc:
        print(f"chatd: the database could not be used: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # `chatd supporters list | head`: the reader left. Python's own advice: point stdout at
        # /dev/null so that the flush at exit does not fail again, and stop quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
