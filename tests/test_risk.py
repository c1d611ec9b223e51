"""Risk triage on normalised English and French text."""

from __future__ import annotations

import random
import re
import unicodedata

import pytest

from routing.risk import RiskMatcher, normalise

MATCHER = RiskMatcher.from_file()


@pytest.mark.parametrize("text", [
    pytest.param("I want to KILL   myself", id="case-and-spacing"),
    pytest.param("i don't want to live anymore", id="apostrophe"),
    pytest.param("I dont want to live", id="no-apostrophe"),
    pytest.param("Je veux en finir.", id="fr"),
    pytest.param("j'ai envie de MOURIR", id="fr-case"),
    pytest.param("Je ne suis pas en sécurité", id="fr-accents"),
    pytest.param("je ne suis pas en securite", id="fr-no-accents"),
    pytest.param("thinking about suicide...", id="punctuation"),
])
def test_risky_texts_match(text: str) -> None:
    assert MATCHER.matches(text)


@pytest.mark.parametrize("text", [
    pytest.param("I'd like to talk about what happened at the base", id="ordinary"),
    pytest.param("my skill myselfie", id="not-whole-words"),
    pytest.param("Bonjour, j'ai besoin de parler", id="fr-ordinary"),
])
def test_ordinary_texts_do_not_match(text: str) -> None:
    assert not MATCHER.matches(text)


def test_normalise_folds_case_accents_and_spacing() -> None:
    assert normalise("  Élève\u2019s   ÇA-va!  ") == "eleves ca va"


def test_ascii_text_normalises_as_by_the_general_rule() -> None:
    """normalise's shortcut for ASCII text gives what the general rule (NFKD of the case-folded
    text, combining marks dropped) gives, on every ASCII character and on random ASCII texts:
    checked against that rule written out here."""
    draw = random.Random(14)
    texts = [chr(c) * 3 for c in range(128)]
    texts += ["".join(draw.choice([chr(c) for c in range(128)]) for _ in range(draw.randrange(60)))
              for _ in range(2000)]
    for text in texts:
        decomposed = unicodedata.normalize("NFKD", text.casefold())
        stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).replace("'", "")
        assert normalise(text) == " ".join(re.sub(r"[^a-z0-9]+", " ", stripped).split()), text


def test_operator_list_replaces_default(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "phrases.txt"
    path.write_text("# comment\nred balloon\n", encoding="utf-8")
    matcher = RiskMatcher.from_file(path)
    assert matcher.matches("a RED balloon!") and not matcher.matches("kill myself")
