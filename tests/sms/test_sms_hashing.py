"""sms.hashing: phone numbers to HMAC ids and labels, and E.164 normalisation."""

from __future__ import annotations

import pytest

from sms.hashing import normalise_e164, number_hash, texter_label


def test_number_hash_is_stable_hex_and_keyed() -> None:
    a = number_hash("secret-a", "+16135550100")
    assert a == number_hash("secret-a", "+16135550100")
    assert len(a) == 64 and int(a, 16) >= 0
    assert a != number_hash("secret-b", "+16135550100")
    assert a != number_hash("secret-a", "+16135550101")
    assert "6135550100" not in a


def test_number_hash_refuses_an_empty_key() -> None:
    with pytest.raises(ValueError, match="secret key"):
        number_hash("", "+16135550100")


def test_texter_label_uses_the_first_four_hex_digits_upper_case() -> None:
    assert texter_label("4f2a9c0d") == "Texter 4F2A"


@pytest.mark.parametrize(("raw", "expected"), [
    pytest.param("+16135550100", "+16135550100", id="e164"),
    pytest.param(" +1 (613) 555-0100 ", "+16135550100", id="separators"),
    pytest.param("613-555-0100", "+16135550100", id="nanp-10-digits"),
    pytest.param("16135550100", "+16135550100", id="nanp-11-digits"),
    pytest.param("0033612345678", "+33612345678", id="international-00"),
    pytest.param("+447911123456", "+447911123456", id="uk"),
])
def test_normalise_e164_accepts_phone_numbers(raw: str, expected: str) -> None:
    assert normalise_e164(raw) == expected


@pytest.mark.parametrize("raw", [
    pytest.param("", id="empty"),
    pytest.param("+", id="plus-only"),
    pytest.param("+0123456789", id="country-code-zero"),
    pytest.param("+1234567", id="too-short"),
    pytest.param("+1234567890123456", id="too-long"),
    pytest.param("12345", id="short-code"),
    pytest.param("0612345678", id="national-non-nanp"),
    pytest.param("1135550100", id="nanp-bad-area-code"),
    pytest.param("+1613555010x", id="letter"),
    pytest.param("+١٦١٣٥٥٥٠١٠٠", id="non-ascii-digits"),
    pytest.param("DefenceTeam", id="alphanumeric-sender"),
])
def test_normalise_e164_rejects_malformed_numbers(raw: str) -> None:
    assert normalise_e164(raw) is None
