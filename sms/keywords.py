"""Classify an inbound text: a keyword (STOP, AIDE, ...) or words for the peer.

A keyword is a message that is *only* that word, compared without case or accents and
with surrounding whitespace, punctuation and symbols trimmed: ``" Arrêt! "`` is an
opt-out, ``"STOP please"`` is a message for the peer. This is the rule Twilio applies to
its own STOP filtering ("only single-word messages trigger the block"), so what we do
matches what the carrier network and Twilio do with the same text.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from config.textrules import is_blank
from sms.texts import Language


class Intent(StrEnum):
    """What an inbound text asks for."""

    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"
    DELETE = "delete"
    LANGUAGE = "language"
    TEXT = "text"


@dataclass(frozen=True, slots=True)
class Classified:
    """An inbound text's intent, the keyword matched (normalised) and its language hint.

    ``language`` is set when the keyword belongs to one language only (``AIDE`` is French,
    ``HELP`` English; for :attr:`Intent.LANGUAGE` it is the language chosen); the glue may
    answer in it. Twilio's standard carrier keywords (STOP, START, ...) are used by
    speakers of both languages, so they carry no hint.
    """

    intent: Intent
    keyword: str | None = None
    language: Language | None = None


# Twilio's standard opt-out list (STOP ... QUIT, plus OPTOUT and REVOKE added for the
# 2025 FCC consent rules) and the Canadian French forms Twilio also honours.
_OPT_OUT = ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE",
            "ARRET", "ARRETE", "ARRETT")
_OPT_IN = ("START", "UNSTOP", "YES")
_HELP = ("HELP", "INFO", "AIDE")
_DELETE = ("DELETE", "SUPPRIMER")

_TABLE: dict[str, Classified] = {
    **{word: Classified(Intent.OPT_OUT, word) for word in _OPT_OUT},
    **{word: Classified(Intent.OPT_IN, word) for word in _OPT_IN},
    **{word: Classified(Intent.HELP, word) for word in _HELP},
    **{word: Classified(Intent.DELETE, word) for word in _DELETE},
    "EN": Classified(Intent.LANGUAGE, "EN", Language.EN),
    "FR": Classified(Intent.LANGUAGE, "FR", Language.FR),
}
for _word, _lang in (("ARRET", Language.FR), ("ARRETE", Language.FR), ("ARRETT", Language.FR),
                     ("AIDE", Language.FR), ("SUPPRIMER", Language.FR),
                     ("HELP", Language.EN), ("DELETE", Language.EN)):
    _TABLE[_word] = Classified(_TABLE[_word].intent, _word, _lang)

TEXT = Classified(Intent.TEXT)

# Longer than any keyword: a long body is a message without normalising it at all.
_MAX_KEYWORD_BODY = 64


def _trimmable(char: str) -> bool:
    """Whitespace, punctuation, symbols (emoji), invisible format characters and anything else
    that shows nothing (a variation selector after an emoji, a Hangul filler: ``is_blank``)."""
    return char.isspace() or unicodedata.category(char)[0] in "PSZC" or is_blank(char)


def normalise(body: str) -> str:
    """Upper-case, accents removed, surrounding whitespace/punctuation/symbols trimmed."""
    start, end = 0, len(body)
    while start < end and _trimmable(body[start]):
        start += 1
    while end > start and _trimmable(body[end - 1]):
        end -= 1
    decomposed = unicodedata.normalize("NFKD", body[start:end])
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return stripped.upper()


def checkin_feeling(body: str) -> int | None:
    """A reply of just a number 1..7 (the in-line notice's optional "how do you feel now?"), or
    None. It is still a message for the peer too; this only records it as the check-in."""
    word = normalise(body) if len(body) <= _MAX_KEYWORD_BODY else ""
    return int(word) if len(word) == 1 and word in "1234567" else None


def classify(body: str) -> Classified:
    """The intent of an inbound SMS body; anything that is not exactly one keyword is text."""
    if len(body) > _MAX_KEYWORD_BODY:
        return TEXT
    return _TABLE.get(normalise(body), TEXT)
