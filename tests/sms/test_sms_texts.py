"""sms.texts: the service's own texts in English, French and both."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from config.settings import Settings
from routing.frames import WaitEstimate
from sms.segments import segment_count
from sms.texts import Language, SmsTexts

TEXTS = SmsTexts(crisis_line="1-844-750-1648", crisis_email="DND.SMRC-CIIS.MDN@forces.gc.ca")

ALL: dict[str, Callable[[Language | None], str]] = {
    "queued": lambda lang: TEXTS.queued(lang, 3),
    "position_update": lambda lang: TEXTS.position_update(lang, 2),
    "help": TEXTS.help,
    "escalation": TEXTS.escalation,
    "opted_out": TEXTS.opted_out,
    "opted_in": TEXTS.opted_in,
    "deleted": TEXTS.deleted,
    "idle_closed": TEXTS.idle_closed,
    "ended_by_peer": TEXTS.ended_by_peer,
}


def test_queued_gives_place_emergency_number_and_crisis_line_in_each_language() -> None:
    for lang in (Language.EN, Language.FR, None):
        text = TEXTS.queued(lang, 4)
        assert "4" in text and "911" in text and "1-844-750-1648" in text
    assert "in line" in TEXTS.queued(Language.EN, 4)
    assert "file" in TEXTS.queued(Language.FR, 4)


@pytest.mark.parametrize("lang", [Language.EN, Language.FR])
def test_queued_carries_the_wait_estimate_when_there_is_one_and_stays_short(lang: Language) -> None:
    for est, words in ((WaitEstimate(minutes=5, more_than=False), ("about 5 min", "environ 5 min")),
                       (WaitEstimate(minutes=15, more_than=True), ("more than 15 min", "plus de 15 min"))):
        text = TEXTS.queued(lang, 12, est)
        assert words[lang == Language.FR] in text and "911" in text and "1-844-750-1648" in text
        assert segment_count(text) <= 4
    assert "min" not in TEXTS.queued(lang, 12).replace("minute", "")


def test_help_and_escalation_give_the_crisis_line_and_email() -> None:
    for text in (TEXTS.help(Language.EN), TEXTS.help(Language.FR), TEXTS.escalation(Language.EN),
                 TEXTS.escalation(Language.FR)):
        assert "1-844-750-1648" in text and "DND.SMRC-CIIS.MDN@forces.gc.ca" in text and "911" in text


@pytest.mark.parametrize("name", list(ALL))
def test_unknown_language_gets_both_english_then_french(name: str) -> None:
    make = ALL[name]
    en, fr, both = make(Language.EN), make(Language.FR), make(None)
    assert en != fr
    assert both.startswith(en.split(" Reply FR")[0][:20]) and fr.split(" Répondez EN")[0][:20] in both


@pytest.mark.parametrize("name", list(ALL))
@pytest.mark.parametrize("lang", [Language.EN, Language.FR])
def test_texts_stay_short(name: str, lang: Language) -> None:
    """At most four segments in one language (French accents make texts UCS-2)."""
    assert segment_count(ALL[name](lang)) <= 4


def test_a_plain_string_language_works_too() -> None:
    assert TEXTS.deleted("fr") == TEXTS.deleted(Language.FR)  # type: ignore[arg-type]


def test_texts_take_the_crisis_line_from_settings() -> None:
    texts = SmsTexts.from_settings(Settings(crisis_line="1-800-000-0000", crisis_email="a@b.ca"))
    assert "1-800-000-0000" in texts.escalation(Language.EN) and "a@b.ca" in texts.help(Language.FR)


def test_language_confirmation_is_in_the_chosen_language() -> None:
    assert "English" in TEXTS.language_set(Language.EN)
    assert "français" in TEXTS.language_set(Language.FR)
