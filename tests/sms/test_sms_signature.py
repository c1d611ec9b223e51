"""sms.signature: X-Twilio-Signature checked against the public URL, never the Host header."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from sms.signature import compute_signature, is_valid_request, is_valid_signature, webhook_url

TOKEN = "12345"
# The worked example of Twilio's webhook security documentation.
DOC_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
DOC_PARAMS = {"CallSid": "CA1234567890ABCDE", "Caller": "+14158675310", "Digits": "1234",
              "From": "+14158675310", "To": "+18005551212"}
DOC_SIGNATURE = "GvWf1cFY/Q7PnoempGyD5oXAezc="


def _reference(token: str, url: str, pairs: list[tuple[str, str]]) -> str:
    """The published algorithm, written out independently of the twilio library."""
    data = url + "".join(name + value for name, value in sorted(set(pairs)))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def test_twilio_documentation_vector() -> None:
    assert _reference(TOKEN, DOC_URL, list(DOC_PARAMS.items())) == DOC_SIGNATURE
    assert compute_signature(TOKEN, DOC_URL, DOC_PARAMS) == DOC_SIGNATURE
    assert is_valid_signature(TOKEN, DOC_URL, DOC_PARAMS, DOC_SIGNATURE)


@pytest.mark.parametrize(("signed_url", "checked_url"), [
    pytest.param("https://chatd.example.org/sms/inbound", "https://chatd.example.org:443/sms/inbound",
                 id="signed-without-port-checked-with"),
    pytest.param("https://chatd.example.org:443/sms/inbound", "https://chatd.example.org/sms/inbound",
                 id="signed-with-port-checked-without"),
    pytest.param("http://chatd.example.org/sms/inbound", "http://chatd.example.org:80/sms/inbound",
                 id="http-port-80"),
    pytest.param("http://127.0.0.1:8000/sms/inbound", "http://127.0.0.1:8000/sms/inbound",
                 id="explicit-non-default-port"),
])
def test_default_port_variants_validate(signed_url: str, checked_url: str) -> None:
    params = {"From": "+16135550100", "Body": "hello"}
    signature = compute_signature(TOKEN, signed_url, params)
    assert is_valid_signature(TOKEN, checked_url, params, signature)


def test_repeated_parameters_are_all_signed() -> None:
    pairs = [("MediaUrl", "https://a.example/1"), ("MediaUrl", "https://a.example/2"), ("Body", "hi")]
    url = "https://chatd.example.org/sms/inbound"
    signature = compute_signature(TOKEN, url, pairs)
    assert signature == _reference(TOKEN, url, pairs)
    assert is_valid_signature(TOKEN, url, pairs, signature)
    assert not is_valid_signature(TOKEN, url, pairs[1:], signature)
    assert not is_valid_signature(TOKEN, url, [*pairs, ("MediaUrl", "https://a.example/3")], signature)


def test_a_changed_parameter_is_invalid() -> None:
    params = {"From": "+16135550100", "Body": "hello"}
    url = "https://chatd.example.org/sms/inbound"
    signature = compute_signature(TOKEN, url, params)
    assert not is_valid_signature(TOKEN, url, {**params, "Body": "hellO"}, signature)
    assert not is_valid_signature(TOKEN, url, {**params, "Extra": ""}, signature)


def test_a_signature_for_another_url_is_invalid() -> None:
    params = {"Body": "hello"}
    signature = compute_signature(TOKEN, "https://evil.example/sms/inbound", params)
    assert not is_valid_request(TOKEN, "https://chatd.example.org", "/sms/inbound", "", params, signature)
    signature = compute_signature(TOKEN, "https://chatd.example.org/sms/status", params)
    assert not is_valid_request(TOKEN, "https://chatd.example.org", "/sms/inbound", "", params, signature)


def test_another_token_or_no_signature_is_invalid() -> None:
    params = {"Body": "hello"}
    url = "https://chatd.example.org/sms/inbound"
    assert not is_valid_signature(TOKEN, url, params, compute_signature("other", url, params))
    assert not is_valid_signature(TOKEN, url, params, None)
    assert not is_valid_signature(TOKEN, url, params, "")
    assert not is_valid_signature("", url, params, compute_signature("", url, params))


def test_the_url_is_built_from_the_public_url_path_and_query() -> None:
    assert webhook_url("https://chatd.example.org/", "/sms/inbound") == "https://chatd.example.org/sms/inbound"
    assert webhook_url("https://x.org/base", "sms/status", "a=1&b=2") == "https://x.org/base/sms/status?a=1&b=2"
    params = {"Body": "hi"}
    signature = compute_signature(TOKEN, "https://x.org/sms/inbound?k=v", params)
    assert is_valid_request(TOKEN, "https://x.org", "/sms/inbound", "k=v", params, signature)
    assert not is_valid_request(TOKEN, "https://x.org", "/sms/inbound", "", params, signature)
