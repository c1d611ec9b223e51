"""sms.segments: splitting long messages at word boundaries within Twilio's limits."""

from __future__ import annotations

import pytest

from sms.segments import GSM7_MAX_CHARS, UCS2_MAX_UNITS, is_gsm7, segment_count, split_message


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def test_a_short_text_is_one_part_unchanged() -> None:
    assert split_message("  hello there\n") == ["  hello there\n"]


def test_an_empty_text_has_no_parts() -> None:
    assert split_message("") == []
    assert split_message(" \n ") == []


@pytest.mark.parametrize("text", [
    pytest.param("\u200b\u200b", id="zero-width-spaces"),
    pytest.param("\u2800", id="braille-blank"),
    pytest.param("\u3164\uffa0", id="hangul-fillers"),
    pytest.param("\u00a0\u3000\ufeff", id="no-break-spaces-and-bom"),
    pytest.param("\u200b" * 5000, id="longer-than-a-part"),
])
def test_a_text_that_shows_nothing_has_no_parts(text: str) -> None:
    """A texter is never sent a text that shows nothing (config.textrules.is_blank)."""
    assert split_message(text) == []


def test_a_run_of_invisible_characters_cut_at_the_limit_never_becomes_a_part_of_its_own() -> None:
    """Visible words around 2,000 zero-width spaces: the words are sent, no blank part between."""
    text = "hello " + "\u200b" * 2000 + " goodbye"
    parts = split_message(text)
    assert parts[0] == "hello" and parts[-1].endswith("goodbye")
    assert all(any(c not in "\u200b " for c in part) for part in parts)


def test_a_visible_text_is_sent_exactly_invisible_characters_and_all() -> None:
    text = "\u200b\U0001f469\u200d\u2764\ufe0f\u200d\U0001f468 ok\u200b"
    assert split_message(text) == [text]


def test_exactly_the_limit_is_one_part() -> None:
    text = "a" * GSM7_MAX_CHARS
    assert split_message(text) == [text]


def test_a_long_gsm_text_breaks_at_spaces_within_1600_chars() -> None:
    words = [f"word{i}" for i in range(600)]
    text = " ".join(words)
    parts = split_message(text)
    assert len(parts) > 1
    assert all(len(p) <= GSM7_MAX_CHARS for p in parts)
    assert " ".join(parts).split() == words  # nothing lost, nothing cut mid-word
    assert all(not p.startswith(" ") and not p.endswith(" ") for p in parts)


def test_a_non_gsm_text_is_cut_at_670_code_units() -> None:
    words = [f"mot{i}😊" for i in range(400)]
    text = " ".join(words)
    parts = split_message(text)
    assert all(_units(p) <= UCS2_MAX_UNITS for p in parts)
    assert " ".join(parts).split() == words


def test_a_break_exactly_at_the_limit_uses_the_following_space() -> None:
    first = "a" * GSM7_MAX_CHARS
    assert split_message(first + " bbb") == [first, "bbb"]


def test_newlines_count_as_break_points_and_stay_inside_parts() -> None:
    text = ("line one\nline two " * 200).strip()
    parts = split_message(text)
    assert all(len(p) <= GSM7_MAX_CHARS for p in parts)
    assert "\n" in parts[0]
    assert " ".join(parts).split() == text.split()


def test_a_single_word_longer_than_the_limit_is_cut() -> None:
    word = "x" * (GSM7_MAX_CHARS * 2 + 10)
    parts = split_message(f"start {word} end")
    assert all(len(p) <= GSM7_MAX_CHARS for p in parts)
    assert "".join(parts).replace(" ", "") == f"start{word}end"


def test_a_long_emoji_run_is_never_split_inside_a_surrogate_pair() -> None:
    parts = split_message("🙂" * 1000)
    assert all(_units(p) <= UCS2_MAX_UNITS for p in parts)
    assert "".join(parts) == "🙂" * 1000


@pytest.mark.parametrize(("text", "gsm"), [
    pytest.param("Hello, how are you?", True, id="ascii"),
    pytest.param("Où êtes-vous?", False, id="e-circumflex"),
    pytest.param("café à côté", False, id="o-circumflex"),
    pytest.param("Ça va, élève", True, id="gsm-accents"),
    pytest.param("price: 5€ [ok]", True, id="extension-table"),
    pytest.param("it\u2019s", False, id="curly-apostrophe"),
    pytest.param("🙂", False, id="emoji"),
])
def test_gsm7_detection(text: str, gsm: bool) -> None:
    assert is_gsm7(text) is gsm


@pytest.mark.parametrize(("text", "count"), [
    pytest.param("a" * 160, 1, id="gsm-160"),
    pytest.param("a" * 161, 2, id="gsm-161"),
    pytest.param("a" * 306, 2, id="gsm-306"),
    pytest.param("a" * 307, 3, id="gsm-307"),
    pytest.param("€" * 80, 1, id="extension-counts-double"),
    pytest.param("ê" * 70, 1, id="ucs2-70"),
    pytest.param("ê" * 71, 2, id="ucs2-71"),
    pytest.param("🙂" * 35, 1, id="emoji-two-units"),
])
def test_segment_count(text: str, count: int) -> None:
    assert segment_count(text) == count
