"""The service's one JSON codec for frames: orjson, with the standard library behind it.

orjson (a compiled codec) parses and writes a frame several times faster than ``json``; the
frames cross it once or twice per message on the relay path (docs/performance.md). Where
orjson refuses what ``json`` accepts — ``NaN``, integers past 64 bits, lone UTF-16 surrogates
(``"\\ud800"``), nesting past 1,024 levels, non-string keys — the call falls back to ``json``,
so what is accepted, what it decodes to and which error is raised stay exactly as before.
Output differs from ``json.dumps``' only in spacing: compact, as the Lua scripts' cjson writes.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def loads(text: str | bytes) -> Any:
    """Parse JSON text; raises ``ValueError`` (or ``RecursionError``) exactly as ``json.loads``."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)  # the rare refusal: the standard library's answer, or its error


def dumps(obj: Any) -> str:
    """Compact JSON text, non-ASCII characters written as they are (not escaped)."""
    try:
        return orjson.dumps(obj).decode()
    except (orjson.JSONEncodeError, UnicodeDecodeError):
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
