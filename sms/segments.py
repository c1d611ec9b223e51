"""Split long peer messages into parts the Messages API accepts, at word boundaries.

Twilio accepts at most 1600 characters in one Messages API request and splits that into
carrier segments itself (153 GSM-7 characters, or 67 UCS-2 code units, per segment of a
concatenated SMS). A text with a single character outside GSM-7 (an emoji, ``ê``, a curly quote)
is sent as UCS-2 for all of it, so such texts are cut at 670 UTF-16 code units: ten
segments, the same bound on cost and on the size of one carrier-reassembled message.
Each part is sent as its own API request, in order (see :mod:`sms.outbox`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from config.textrules import is_blank

GSM7_MAX_CHARS = 1600
UCS2_MAX_UNITS = 670

_GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_Measure = Callable[[str], int]

# Characters of the GSM-7 extension table: allowed, but each costs two septets.
_GSM7_EXTENDED = frozenset("\f^{}\\[~]|€")


def is_gsm7(text: str) -> bool:
    """Whether every character of ``text`` can be sent in the GSM-7 alphabet."""
    return all(c in _GSM7_BASIC or c in _GSM7_EXTENDED for c in text)


def _utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def segment_count(text: str) -> int:
    """How many carrier segments Twilio bills ``text`` as (what ``num_segments`` reports)."""
    if is_gsm7(text):
        septets = sum(2 if c in _GSM7_EXTENDED else 1 for c in text)
        return 1 if septets <= 160 else math.ceil(septets / 153)
    units = _utf16_units(text)
    return 1 if units <= 70 else math.ceil(units / 67)


def split_message(text: str) -> list[str]:
    """``text`` as one or more parts within the API limit, broken at whitespace.

    A part never ends mid-word unless one word alone exceeds the limit; whitespace at a
    break is dropped, whitespace (newlines included) inside a part is kept. A blank text
    (:func:`config.textrules.is_blank`: empty, whitespace, zero-width and other invisible
    characters) gives no parts, and a part that would show nothing (a long run of invisible
    characters cut at the limit) is left out: a texter is never sent a blank text.
    """
    measure: _Measure
    if is_gsm7(text):
        limit, measure = GSM7_MAX_CHARS, len
    else:
        limit, measure = UCS2_MAX_UNITS, _utf16_units
    if measure(text) <= limit:
        return [] if is_blank(text) else [text]
    parts: list[str] = []
    rest = text.strip()
    while rest:
        if measure(rest) <= limit:
            if not is_blank(rest):
                parts.append(rest)
            break
        head = _longest_prefix(rest, limit, measure)
        # A break right after the prefix is best of all: the limit falls between words.
        cut = len(head) if rest[len(head)].isspace() else _last_space(head)
        if cut > 0:
            part, rest = head[:cut], rest[cut:]
        else:
            # One word longer than the limit: cut it where it has to be.
            part, rest = head, rest[len(head):]
        part = part.rstrip()
        if not is_blank(part):
            parts.append(part)
        rest = rest.lstrip()
    return parts


def _longest_prefix(text: str, limit: int, measure: _Measure) -> str:
    """The longest prefix of ``text`` that measures at most ``limit`` (never splits a code point)."""
    end = min(len(text), limit)
    while measure(text[:end]) > limit:
        end -= 1
    return text[:end]


def _last_space(head: str) -> int:
    """Index of the whitespace where ``head`` should break, or 0 when it has none."""
    for i in range(len(head) - 1, 0, -1):
        if head[i].isspace():
            return i
    return 0

