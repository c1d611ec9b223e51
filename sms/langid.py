"""A texter's language from their first text, when it is clear (issue 13).

Why py3langid: measured on the table of short, real-looking texts in tests/sms/test_langid.py
(50 English and French ones, 8 too short or mixed to tell), restricted to English and French:

| EN/FR only | right, at a threshold with no error | unclear: bilingual | load | RSS | per text |
| --- | --- | --- | --- | --- | --- |
| py3langid 0.4, p >= 0.9 | 50 / 50 | 8 / 8 | 1.5 s | +100 MB | 0.014 ms |
| lingua-language-detector 2.1, p >= 0.8 | 47 / 50 | 8 / 8 | 0.8 s | +85 MB | 0.09 ms |

Both made no mistake at those thresholds; py3langid told more of the short texts apart, is
six times faster per text and installs in 50 MB with numpy (lingua: 96 MB). Its model is the
langid.py one, kept up by its maintainer (docs/sms.md). The model loads in a thread when the
SMS bridge starts, so no webhook waits for it (TwiML within a second): until it is loaded,
texts are not guessed and replies stay bilingual, as they do for any text that is not clear.

Clear means: two words or more, and a probability of at least :data:`THRESHOLD` between the
two languages. FR/EN keywords (sms/keywords.py) still decide as before.
"""

from __future__ import annotations

import asyncio
import functools
import re
import threading
from typing import Any

from sms.texts import Language

THRESHOLD = 0.9
MIN_WORDS = 2
_WORD = re.compile(r"[^\W\d_]{2,}")


_LOADING = threading.Lock()


@functools.cache
def _model() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(["en", "fr"])
    return identifier


def _load() -> Any:
    """The model, loaded once per process (1.5 s; read-only once loaded, so one copy serves every
    bridge of the process, and a test run pays for it once). The lock keeps two loads from
    running side by side."""
    with _LOADING:
        return _model()


class LanguageGuesser:
    """Guesses English or French from a text, or says it cannot tell (None)."""

    def __init__(self) -> None:
        self._identifier: Any = None

    @property
    def ready(self) -> bool:
        return self._identifier is not None

    async def load(self) -> None:
        """Load the model (in a thread; the event loop goes on)."""
        if self._identifier is None:
            self._identifier = await asyncio.to_thread(_load)

    def load_now(self) -> None:
        """Load the model in this thread (tests, tools)."""
        if self._identifier is None:
            self._identifier = _load()

    def guess(self, text: str) -> Language | None:
        """The text's language when it is clear, else None (also while the model loads)."""
        if self._identifier is None or len(_WORD.findall(text)) < MIN_WORDS:
            return None
        lang, probability = self._identifier.classify(text[:1000])
        if probability < THRESHOLD:
            return None
        return Language.FR if lang == "fr" else Language.EN
