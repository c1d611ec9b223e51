"""Risk triage on normalised English and French text."""

from __future__ import annotations

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


def test_operator_list_replaces_default(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "phrases.txt"
    path.write_text("# comment\nred balloon\n", encoding="utf-8")
    matcher = RiskMatcher.from_file(path)
    assert matcher.matches("a RED balloon!") and not matcher.matches("kill myself")
