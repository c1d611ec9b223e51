"""Phone numbers in, stable pseudonymous ids out.

A texter's number is needed in clear only to send to it, and lives in Redis only while its
conversation is open. Everywhere else (database rows, logs, peer consoles) the number is
replaced by :func:`number_hash`, an HMAC keyed by ``CHATD_SECRET_KEY``: stable, so a
returning texter can be recognised, but useless to anyone without the key.
"""

from __future__ import annotations

import hashlib
import hmac
import re

# Domain separation: the secret key also signs sessions, so the hashed bytes carry a
# context tag that no session token can ever start with.
_CONTEXT = b"chatd.sms.number\x00"

# E.164: a "+", a country code not starting with 0, at most 15 digits in all. A minimum of
# 8 digits rejects short codes and junk ("+1", "+123").
_E164 = re.compile(r"\+[1-9][0-9]{7,14}")
# What people type around digits; Twilio itself always sends clean E.164.
_SEPARATORS = re.compile(r"[\s().\-\u00a0]")


def number_hash(secret_key: str, e164: str) -> str:
    """HMAC-SHA256 of a normalised E.164 number under the secret key, as 64 hex digits."""
    if not secret_key:
        raise ValueError("number_hash needs a non-empty secret key")
    return hmac.new(secret_key.encode("utf-8"), _CONTEXT + e164.encode("ascii"), hashlib.sha256).hexdigest()


def texter_label(number_hash_hex: str) -> str:
    """The name peers see for a texter: ``"Texter 4F2A"`` from the first four hex digits."""
    return f"Texter {number_hash_hex[:4].upper()}"


def normalise_e164(raw: str) -> str | None:
    """``raw`` as E.164 (``+16135550100``), or ``None`` when it is not a phone number.

    Accepts what Twilio sends (already E.164) and what a person types into the simulator:
    separators are dropped, and a ten-digit North American number (or eleven digits
    starting with 1) gets its ``+1``. Anything else without a leading ``+`` is refused
    rather than guessed at, since a wrong guess would text a stranger.
    """
    cleaned = _SEPARATORS.sub("", raw.strip())
    if cleaned.startswith("00"):
        cleaned = "+" + cleaned[2:]
    if not cleaned.startswith("+") and cleaned.isascii() and cleaned.isdigit():
        if len(cleaned) == 10 and cleaned[0] in "23456789":
            cleaned = "+1" + cleaned
        elif len(cleaned) == 11 and cleaned[0] == "1" and cleaned[1] in "23456789":
            cleaned = "+" + cleaned
    if not _E164.fullmatch(cleaned):
        return None
    return cleaned
