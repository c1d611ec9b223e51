"""Supporter accounts: validation, argon2id password hashes, and login checks."""

from __future__ import annotations

import asyncio
import re
import time

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from config.textrules import is_blank
from peers.errors import AccountExists, InvalidAccount, NoSuchAccount
from records import RecordExists, Records, Supporter
from records.interface import DEFAULT_LANGUAGES

# OWASP's argon2id recommendation: 19 MiB of memory, 2 iterations, 1 degree of parallelism.
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}\Z")  # \Z: "$" would also take a final newline
ROLES = ("peer", "supervisor", "admin")
LANGUAGES = DEFAULT_LANGUAGES  # contract section 3: "en", "fr"
MIN_PASSWORD = 10
MAX_PASSWORD = 1024
# Verified when the username is unknown, so a wrong username costs the same time as a wrong password.
_DUMMY_HASH = HASHER.hash("not-a-real-password-0")


def validate(username: str, display_name: str, role: str, password: str) -> None:
    if not USERNAME_RE.match(username):
        raise InvalidAccount("username: 1-64 characters, lower-case letters, digits, '.', '_' or '-'")
    if is_blank(display_name) or len(display_name) > 80:  # seekers see it: it must show something
        raise InvalidAccount("display name: 1-80 characters, not all invisible")
    if role not in ROLES:
        raise InvalidAccount(f"role: one of {', '.join(ROLES)}")
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidAccount(f"password: {MIN_PASSWORD} to {MAX_PASSWORD} characters")


def parse_languages(value: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """The languages an account speaks, from ``"en,fr"`` (the CLI) or ``["fr", "en"]`` (JSON):
    at least one of ``LANGUAGES``, each once, returned in ``LANGUAGES`` order.

    Raises InvalidAccount for anything else (an unknown code, none, a repeat)."""
    items = [v.strip().lower() for v in value.split(",")] if isinstance(value, str) else list(value)
    if not items or any(not isinstance(v, str) or v not in LANGUAGES for v in items) or len(set(items)) != len(items):
        raise InvalidAccount(f"languages: one or more of {', '.join(LANGUAGES)}, each once (for example en,fr)")
    return tuple(code for code in LANGUAGES if code in items)


async def create(store: Records, username: str, display_name: str, role: str, trained: bool,
                 password: str, languages: tuple[str, ...] = DEFAULT_LANGUAGES) -> None:
    """Create an enabled account; ``languages`` as :func:`parse_languages` returns them.

    Raises InvalidAccount for a bad field, AccountExists when the username is taken."""
    validate(username, display_name, role, password)
    languages = parse_languages(languages)
    hashed = await asyncio.to_thread(HASHER.hash, password)
    try:
        await store.add_supporter(username, display_name.strip(), role, trained, hashed, int(time.time() * 1000),
                                  languages)
    except RecordExists:
        raise AccountExists(f"an account named {username!r} already exists") from None


async def set_flags(store: Records, username: str, *, trained: bool | None = None,
                    disabled: bool | None = None) -> None:
    if not await store.update_supporter(username, trained=trained, disabled=disabled):
        raise NoSuchAccount(f"no account named {username!r}")


async def check_login(store: Records, username: str, password: str) -> Supporter | None:
    """The account when the password is right and the account is enabled; otherwise None.

    The hash check is awaited in a thread and its result is the only way to a True answer: a
    forgotten ``await`` here (Rocket.Chat's bug) would return a coroutine, which is not a
    Supporter, and tests assert that a wrong password always fails.
    """
    if len(password) > MAX_PASSWORD:
        return None
    supporter = await store.get_supporter(username)
    stored = supporter.password_hash if supporter is not None else _DUMMY_HASH
    ok = await asyncio.to_thread(_verify, stored, password)
    if ok is not True or supporter is None or supporter.disabled:
        return None
    return supporter


def _verify(stored: str, password: str) -> bool:
    try:
        return HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
