"""What text from outside must be: encodable as UTF-8 and storable, and not blank.

Every edge applies these rules to what arrives from outside: socket frames (``chatd/wire.py``),
HTTP bodies (``chatd/auth.py``), webhook forms and texts (``sms/``), the command line and the
environment (``chatd/cli.py``, ``config/settings.py``). The rules live here, in ``config/``,
because that is the package every other one already imports and which imports none of them:
``sms/`` and ``routing/`` may use it without importing ``chatd`` (the architecture forbids
that), and the settings use it too. Standard library only.

Why "encodable as UTF-8" and not just "a ``str``": Python strings may hold lone UTF-16
surrogates (U+D800..U+DFFF). JSON's ``"\\ud800"`` escape, ``json.loads`` on bytes (it decodes
with ``surrogatepass``) and POSIX ``argv``/``environ`` (decoded with ``surrogateescape``) all
make them. Such a string cannot be written to a socket, Redis, SQLite or a log, so it must be
refused where it comes in, with a clear error, not found later by a crash.

Why "storable": the NUL character (U+0000) is valid UTF-8, but PostgreSQL's ``text`` type and
its JSON types cannot hold it. A message holding one would be acknowledged from Redis and then
never archived; an account name holding one would fail every query. So it is refused with the
surrogates, on every backend, and the rule does not depend on the database.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["NOT_TEXT", "find_unencodable", "is_blank", "is_encodable", "is_utf8"]


def is_utf8(text: str) -> bool:
    """Whether ``text`` can be encoded as UTF-8: False when it holds a lone surrogate. For text
    that is never stored (a password, which is only hashed); everything else uses is_encodable."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def is_encodable(text: str) -> bool:
    """Whether ``text`` can be encoded as UTF-8 and stored: False when it holds a lone surrogate
    or a NUL character (U+0000)."""
    return "\x00" not in text and is_utf8(text)


# How an edge names what is_encodable refuses, in an error message.
NOT_TEXT = "not valid Unicode text (it holds a lone UTF-16 surrogate, which UTF-8 cannot encode, or a NUL character)"


# Where a value sits in a nest: None at the top, else (the parent's place, key or index).
_Place = tuple["_Place", object] | None


def find_unencodable(value: object) -> str | None:
    """Where in ``value`` the first string that :func:`is_encodable` refuses is, or None.

    ``value`` is a parsed JSON value (or any nest of mappings, lists and tuples): every string
    in it is checked, keys and values, at any depth. The answer is a short path for an error
    message: ``client_id``, ``x[2].y``, ``a key in x`` (a key itself is the culprit), or
    ``the value`` (``value`` is itself such a string).
    Iterative, so it works at any depth ``json.loads`` accepted.
    """
    # Places are linked, not copied: a big array costs one small tuple per element, and a path
    # is spelled out only for the answer.
    stack: list[tuple[object, _Place]] = [(value, None)]
    while stack:
        item, place = stack.pop()
        if isinstance(item, str):
            if not is_encodable(item):
                return _spell(place)
        elif isinstance(item, Mapping):
            for key, child in item.items():
                if isinstance(key, str) and not is_encodable(key):
                    return "a key" if place is None else f"a key in {_spell(place)}"
                stack.append((child, (place, key)))
        elif isinstance(item, list | tuple):
            stack.extend((child, (place, i)) for i, child in enumerate(item))
    return None


def _spell(place: _Place) -> str:
    steps: list[str] = []
    while place is not None:
        place, step = place
        steps.append(f"[{step}]" if isinstance(step, int) else f".{step}")
    joined = "".join(reversed(steps)).removeprefix(".")
    if not joined:
        return "the value"
    return joined if len(joined) <= 80 else joined[:77] + "..."


# --- blank text ------------------------------------------------------------------------------
# Code points that show nothing by themselves, as (first, last) ranges. Sources: the Unicode
# Character Database 14.0 (the version Python 3.11's unicodedata implements).
_CONTROLS = ((0x0000, 0x001F), (0x007F, 0x009F))  # general category Cc
# White_Space, PropList.txt (those not already Cc).
_WHITE_SPACE = ((0x0020, 0x0020), (0x00A0, 0x00A0), (0x1680, 0x1680), (0x2000, 0x200A), (0x2028, 0x2029),
                (0x202F, 0x202F), (0x205F, 0x205F), (0x3000, 0x3000))
# Default_Ignorable_Code_Point, DerivedCoreProperties.txt: every format character (Cf) except
# the few Unicode says must stay visible (Prepended_Concatenation_Mark such as U+0600 ARABIC
# NUMBER SIGN, the interlinear annotation marks U+FFF9..FFFB, Egyptian hieroglyph format
# controls), plus the variation selectors, the Hangul fillers, U+034F COMBINING GRAPHEME JOINER,
# the tag characters and a few reserved ranges. Python's unicodedata does not expose the
# property, so the table is copied here; a test checks it against unicodedata's Cf characters.
_DEFAULT_IGNORABLE = (
    (0x00AD, 0x00AD),    # SOFT HYPHEN
    (0x034F, 0x034F),    # COMBINING GRAPHEME JOINER
    (0x061C, 0x061C),    # ARABIC LETTER MARK
    (0x115F, 0x1160),    # HANGUL CHOSEONG FILLER..HANGUL JUNGSEONG FILLER
    (0x17B4, 0x17B5),    # KHMER VOWEL INHERENT AQ..AA
    (0x180B, 0x180F),    # MONGOLIAN FREE VARIATION SELECTORS, MONGOLIAN VOWEL SEPARATOR
    (0x200B, 0x200F),    # ZERO WIDTH SPACE..RIGHT-TO-LEFT MARK
    (0x202A, 0x202E),    # LEFT-TO-RIGHT EMBEDDING..RIGHT-TO-LEFT OVERRIDE
    (0x2060, 0x206F),    # WORD JOINER..NOMINAL DIGIT SHAPES (U+2065 reserved)
    (0x3164, 0x3164),    # HANGUL FILLER
    (0xFE00, 0xFE0F),    # VARIATION SELECTOR-1..16
    (0xFEFF, 0xFEFF),    # ZERO WIDTH NO-BREAK SPACE (byte order mark)
    (0xFFA0, 0xFFA0),    # HALFWIDTH HANGUL FILLER
    (0xFFF0, 0xFFF8),    # reserved
    (0x1BCA0, 0x1BCA3),  # SHORTHAND FORMAT LETTER OVERLAP..UP STEP
    (0x1D173, 0x1D17A),  # MUSICAL SYMBOL BEGIN BEAM..END PHRASE
    (0xE0000, 0xE0FFF),  # LANGUAGE TAG, TAG SPACE..CANCEL TAG, VARIATION SELECTOR-17..256, reserved
)
# Symbols with neither property whose glyph is empty, used to fake an empty message.
_BLANK_SYMBOLS = (
    (0x2800, 0x2800),    # BRAILLE PATTERN BLANK
    (0x1D159, 0x1D159),  # MUSICAL SYMBOL NULL NOTEHEAD
)
BLANK_RANGES = (*_CONTROLS, *_WHITE_SPACE, *_DEFAULT_IGNORABLE, *_BLANK_SYMBOLS)
_BLANK_RE = re.compile("[" + "".join(f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in BLANK_RANGES) + "]*")


def is_blank(text: str) -> bool:
    """Whether ``text`` shows nothing: empty, or made only of invisible code points.

    Invisible means: a control (general category Cc), White_Space (U+0020, U+00A0, U+2000..200A,
    U+2028/2029, U+3000, ...), Default_Ignorable_Code_Point (format characters such as U+200B
    ZERO WIDTH SPACE and U+FEFF, variation selectors U+FE00..FE0F and U+E0100..E01EF, U+034F
    COMBINING GRAPHEME JOINER, the Hangul fillers U+115F, U+1160, U+3164, U+FFA0, U+180E, tag
    characters), or a symbol drawn empty (U+2800 BRAILLE PATTERN BLANK, U+1D159 MUSICAL SYMBOL
    NULL NOTEHEAD). Properties as defined in Unicode's PropList.txt and DerivedCoreProperties.txt.

    Only a yes or no: a text with anything visible in it is used exactly as it came, invisible
    characters included (the zero width joiner inside 👩‍❤️‍👨 is part of that emoji).
    """
    return _BLANK_RE.fullmatch(text) is not None
