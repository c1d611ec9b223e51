"""Risk triage: a curated English and French phrase list matched on normalised text.

Honest limits (also in docs/architecture.md): this catches explicit wording only. It misses
misspellings beyond accents and spacing, indirect language, sarcasm and other languages, and
it flags quoted or negated phrases ("I'm not suicidal"). A match only escalates (crisis line
to the seeker, front of the queue, supervisors alerted); it never blocks or hides a message,
so a false positive costs little and a miss leaves the peer's judgement in charge.
"""

from __future__ import annotations

import re
import unicodedata
from importlib import resources
from pathlib import Path

_NON_WORD = re.compile(r"[^a-z0-9]+")


def normalise(text: str) -> str:
    """Lower case, accents removed, apostrophes dropped, everything else non-alphanumeric a space."""
    if text.isascii():
        # Every seeker message passes here. ASCII text has no accents, NFKD leaves it as it is
        # and its case folding is lower(): the same result without a Python step per character.
        stripped = text.lower().replace("'", "")
    else:
        decomposed = unicodedata.normalize("NFKD", text.casefold())
        stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
        stripped = stripped.replace("'", "").replace("\u2019", "").replace("\u02bc", "")
    return " ".join(_NON_WORD.sub(" ", stripped).split())


class RiskMatcher:
    """Matches texts against a phrase list; whole words only."""

    def __init__(self, phrases: list[str]) -> None:
        cleaned = sorted({normalise(p) for p in phrases if normalise(p)}, key=len, reverse=True)
        self.phrases = tuple(cleaned)
        self._pattern = (re.compile(r"(?<![a-z0-9])(?:" + "|".join(re.escape(p) for p in cleaned)
                                    + r")(?![a-z0-9])") if cleaned else None)

    @classmethod
    def from_file(cls, path: Path | None = None) -> RiskMatcher:
        """The operator's file, or the packaged default list."""
        raw = (path.read_text(encoding="utf-8") if path is not None
               else resources.files("routing").joinpath("risk_phrases.txt").read_text(encoding="utf-8"))
        return cls([line.strip() for line in raw.splitlines() if line.strip() and not line.startswith("#")])

    def matches(self, text: str) -> bool:
        """True when the text contains a listed phrase."""
        return self._pattern is not None and self._pattern.search(normalise(text)) is not None
