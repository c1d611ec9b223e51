"""sms.keywords: one-word keywords in English and French, everything else is text."""

from __future__ import annotations

import pytest

from sms.keywords import Intent, classify
from sms.texts import Language


@pytest.mark.parametrize(("body", "intent"), [
    *[pytest.param(w, Intent.OPT_OUT, id=f"opt-out-{w}") for w in
      ("STOP", "stop", "Stop", "STOPALL", "UNSUBSCRIBE", "cancel", "END", "quit", "ARRET", "arrêt",
       "ARRÊT", "Arrete", "ARRETT")],
    *[pytest.param(w, Intent.OPT_IN, id=f"opt-in-{w}") for w in ("START", "start", "UNSTOP", "yes")],
    *[pytest.param(w, Intent.HELP, id=f"help-{w}") for w in ("HELP", "help", "INFO", "Aide", "AIDE")],
    *[pytest.param(w, Intent.DELETE, id=f"delete-{w}") for w in ("DELETE", "delete", "SUPPRIMER",
                                                                 "supprimer")],
    *[pytest.param(w, Intent.LANGUAGE, id=f"language-{w}") for w in ("FR", "fr", "EN", "en")],
])
def test_single_keywords_are_recognised_in_any_case_and_accent(body: str, intent: Intent) -> None:
    assert classify(body).intent is intent


@pytest.mark.parametrize("body", [
    pytest.param("  stop  ", id="spaces"),
    pytest.param("STOP.", id="period"),
    pytest.param("Stop!!!", id="exclamations"),
    pytest.param("\nSTOP\n", id="newlines"),
    pytest.param("«STOP»", id="guillemets"),
    pytest.param("\u200bSTOP", id="zero-width-space"),
    pytest.param("STOP 🛑", id="emoji"),
    pytest.param("\uff33\uff34\uff2f\uff30", id="fullwidth"),
    pytest.param("STOP\ufe0f", id="variation-selector"),
    pytest.param("\u3164STOP", id="hangul-filler"),
    pytest.param("STOP\u2800", id="braille-blank"),
    pytest.param("\u2060STOP\u00ad", id="word-joiner-soft-hyphen"),
])
def test_surrounding_whitespace_punctuation_and_symbols_are_trimmed(body: str) -> None:
    assert classify(body).intent is Intent.OPT_OUT


@pytest.mark.parametrize("body", [
    pytest.param("STOP please", id="stop-please"),
    pytest.param("please stop", id="please-stop"),
    pytest.param("Arrêtez svp", id="arretez-svp"),
    pytest.param("I need help", id="need-help"),
    pytest.param("aide-moi", id="aide-moi"),
    pytest.param("help me", id="help-me"),
    pytest.param("STOPPED", id="stopped"),
    pytest.param("S T O P", id="spaced-letters"),
    pytest.param("stop stop", id="twice"),
    pytest.param("", id="empty"),
    pytest.param("   ", id="blank"),
    pytest.param("Bonjour", id="bonjour"),
    pytest.param("français", id="francais"),
    pytest.param("x" * 500, id="long"),
])
def test_anything_but_a_lone_keyword_is_text(body: str) -> None:
    assert classify(body).intent is Intent.TEXT


@pytest.mark.parametrize(("body", "language"), [
    pytest.param("AIDE", Language.FR, id="aide"),
    pytest.param("ARRÊT", Language.FR, id="arret"),
    pytest.param("supprimer", Language.FR, id="supprimer"),
    pytest.param("FR", Language.FR, id="fr"),
    pytest.param("HELP", Language.EN, id="help"),
    pytest.param("DELETE", Language.EN, id="delete"),
    pytest.param("en", Language.EN, id="en"),
    pytest.param("STOP", None, id="stop-both-languages"),
    pytest.param("START", None, id="start-both-languages"),
    pytest.param("INFO", None, id="info-both-languages"),
])
def test_keywords_of_one_language_carry_it(body: str, language: Language | None) -> None:
    assert classify(body).language == language


def test_the_matched_keyword_is_reported_normalised() -> None:
    assert classify(" arrêt! ").keyword == "ARRET"
    assert classify("hello").keyword is None
