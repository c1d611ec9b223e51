"""Domain errors of accounts and sessions."""

from __future__ import annotations


class PeersError(Exception):
    """Base of account and session errors."""


class InvalidAccount(PeersError):
    """A username, display name, role or password does not meet the rules; the message says which."""


class AccountExists(PeersError):
    """An account with that username already exists."""


class NoSuchAccount(PeersError):
    """No account has that username."""
