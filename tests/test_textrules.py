"""config.textrules: which strings are valid Unicode text, and which texts show nothing."""

from __future__ import annotations

import json
import sys
import unicodedata

import pytest

from config.textrules import BLANK_RANGES, find_unencodable, is_blank, is_encodable


@pytest.mark.parametrize("text", [
    pytest.param("", id="empty"),
    pytest.param(" \t\r\n", id="ascii-whitespace"),
    pytest.param("\u200b\u200b", id="zero-width-spaces"),
    pytest.param("\u200c\u200d\u2060\ufeff", id="zwnj-zwj-word-joiner-bom"),
    pytest.param("\u00a0\u2000\u2005\u200a\u202f\u205f\u3000", id="no-break-and-typographic-spaces"),
    pytest.param("\u2028\u2029\u0085", id="line-paragraph-separators-nel"),
    pytest.param("\u1680", id="ogham-space-mark"),
    pytest.param("\u2800\u2800", id="braille-pattern-blank"),
    pytest.param("\u3164", id="hangul-filler"),
    pytest.param("\u115f\u1160", id="hangul-choseong-jungseong-fillers"),
    pytest.param("\uffa0", id="halfwidth-hangul-filler"),
    pytest.param("\u180e", id="mongolian-vowel-separator"),
    pytest.param("\u180b\u180f", id="mongolian-variation-selectors"),
    pytest.param("\ufe00\ufe0f", id="variation-selectors"),
    pytest.param("\U000e0100\U000e01ef", id="variation-selectors-supplement"),
    pytest.param("\u034f", id="combining-grapheme-joiner"),
    pytest.param("\U000e0001\U000e0067\U000e0062\U000e007f", id="tag-characters"),
    pytest.param("\u200e\u200f\u061c", id="direction-marks"),
    pytest.param("\u202a\u202e\u202c\u2066\u2069", id="bidi-embeddings-and-isolates"),
    pytest.param("\u00ad", id="soft-hyphen"),
    pytest.param("\u17b4\u17b5", id="khmer-inherent-vowels"),
    pytest.param("\u2061\u2062\u2063\u2064", id="invisible-math-operators"),
    pytest.param("\U0001bca0\U0001d173", id="shorthand-and-musical-format"),
    pytest.param("\U0001d159", id="musical-null-notehead"),
    pytest.param("\x00\x07\x1b\x7f\x9f", id="controls"),
    pytest.param(" \u200b\u3164\u2800\ufe0f\u00a0", id="mixed"),
    pytest.param("\u200b" * 4000, id="longest"),
])
def test_texts_that_show_nothing_are_blank(text: str) -> None:
    assert is_blank(text)


@pytest.mark.parametrize("text", [
    pytest.param("ok", id="ascii"),
    pytest.param(".", id="one-full-stop"),
    pytest.param("0", id="one-digit"),
    pytest.param("\U0001f469\u200d\u2764\ufe0f\u200d\U0001f468", id="emoji-zwj-sequence"),
    pytest.param("\u2764\ufe0f", id="emoji-with-variation-selector"),
    pytest.param("\U0001f1e8\U0001f1e6", id="flag"),
    pytest.param("\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f", id="tag-sequence-flag"),
    pytest.param("\ud55c", id="hangul-syllable"),
    pytest.param("\u1100\u1161", id="hangul-jamo"),
    pytest.param("\u0645\u0631\u062d\u0628\u0627", id="arabic-rtl"),
    pytest.param("\u200f\u05e9\u05dc\u05d5\u05dd", id="hebrew-after-rtl-mark"),
    pytest.param("\u200b \u00e9 \u200b", id="one-letter-among-invisibles"),
    pytest.param("\u0301", id="lone-combining-accent"),
    pytest.param("\u0600", id="arabic-number-sign"),  # a format character Unicode says stays visible
    pytest.param("\u2801", id="braille-pattern-dot-1"),
    pytest.param("_", id="underscore"),
    pytest.param("\ue000", id="private-use"),
    pytest.param("\ufffd", id="replacement-character"),
])
def test_texts_with_anything_visible_are_not_blank(text: str) -> None:
    assert not is_blank(text)


def test_the_default_ignorable_table_agrees_with_unicodedatas_format_characters() -> None:
    """Default_Ignorable_Code_Point holds every format character (Cf) but the ones Unicode says
    stay visible; checked against this Python's unicodedata, so a table that falls behind shows."""
    visible_format = {*range(0x0600, 0x0606), 0x06DD, 0x070F, 0x0890, 0x0891, 0x08E2, 0x110BD, 0x110CD,
                      *range(0xFFF9, 0xFFFC), *range(0x13430, 0x13440)}
    blank = {cp for lo, hi in BLANK_RANGES for cp in range(lo, hi + 1)}
    format_chars = {cp for cp in range(sys.maxunicode + 1) if unicodedata.category(chr(cp)) == "Cf"}
    assert sorted(hex(cp) for cp in format_chars - visible_format - blank) == []
    assert sorted(hex(cp) for cp in (format_chars & visible_format) & blank) == []
    controls = {cp for cp in range(sys.maxunicode + 1) if unicodedata.category(chr(cp)) == "Cc"}
    assert controls <= blank
    spaces = {cp for cp in range(sys.maxunicode + 1) if unicodedata.category(chr(cp)) in ("Zs", "Zl", "Zp")}
    assert spaces <= blank


def test_a_text_is_never_changed_by_the_check() -> None:
    text = "\u200bhi \U0001f469\u200d\u2764\ufe0f\u200d\U0001f468\u200b"
    copy = str(text)
    assert not is_blank(text) and text == copy


@pytest.mark.parametrize("text,ok", [
    pytest.param("plain", True, id="ascii"),
    pytest.param("\U0001f600 \u00e9\u4e2d", True, id="non-ascii"),
    # Valid UTF-8, but PostgreSQL's text and JSON types cannot hold it: refused at every edge.
    pytest.param("\x00", False, id="nul"),
    pytest.param("a\x00b", False, id="nul-inside"),
    pytest.param("\ud800", False, id="lone-high-surrogate"),
    pytest.param("\udfff", False, id="lone-low-surrogate"),
    pytest.param("a\ud83d", False, id="half-a-pair"),
    pytest.param("\udcff", False, id="surrogateescape-byte"),
])
def test_is_encodable(text: str, ok: bool) -> None:
    assert is_encodable(text) is ok


@pytest.mark.parametrize("raw,where", [
    pytest.param('{"type":"message","client_id":"\\ud800","text":"hi"}', "client_id", id="top-level-value"),
    pytest.param('{"a":[1,{"b":"\\udc00"}]}', "a[1].b", id="nested"),
    pytest.param('{"\\ud800":1}', "a key", id="top-level-key"),
    pytest.param('{"x":{"\\ud800":1}}', "a key in x", id="nested-key"),
    pytest.param('["ok","\\ud800"]', "[1]", id="array"),
    pytest.param('"\\ud800"', "the value", id="bare-string"),
    pytest.param('{"type":"message","text":"hi\\u0000there"}', "text", id="nul"),
    pytest.param('{"type":"message","text":"\\ud83d\\ude00 fine","n":null,"f":1.5,"t":true}', None,
                 id="a-pair-is-fine"),
])
def test_find_unencodable_names_where_the_bad_string_is(raw: str, where: str | None) -> None:
    assert find_unencodable(json.loads(raw)) == where


def test_find_unencodable_walks_as_deep_as_json_parses() -> None:
    depth = 900  # near json.loads's own limit; the walk itself has none (iterative)
    value = json.loads("[" * depth + '"\\ud800"' + "]" * depth)
    where = find_unencodable(value)
    assert where is not None and where.startswith("[0][0]") and where.endswith("...")  # shortened
    assert find_unencodable(json.loads("[" * depth + '"ok"' + "]" * depth)) is None
