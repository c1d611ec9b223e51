"""sms.webform: a webhook's form body, UTF-8 exactly or refused."""

from __future__ import annotations

import pytest
from starlette.requests import Request
from starlette.types import Message

from sms.webform import MAX_FIELDS, InvalidForm, form_items


async def _starlette_form(body: bytes) -> list[tuple[str, str]]:
    """What ``request.form()`` makes of a urlencoded body (a real Starlette request)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    scope = {"type": "http", "method": "POST", "path": "/sms/inbound", "query_string": b"",
             "headers": [(b"content-type", b"application/x-www-form-urlencoded")]}
    form = await Request(scope, receive).form()
    return [(k, v) for k, v in form.multi_items() if isinstance(v, str)]


@pytest.mark.parametrize("body", [
    pytest.param(b"MessageSid=SM1&From=%2B16135550100&Body=Hello+there", id="twilio-like"),
    pytest.param(b"Body=caf%C3%A9+%C3%A0+l%27%C3%A9cole", id="french"),
    pytest.param(b"Body=%F0%9F%91%A9%E2%80%8D%E2%9D%A4%EF%B8%8F%E2%80%8D%F0%9F%91%A8", id="emoji-zwj"),
    pytest.param(b"Body=%E2%80%8B%E2%80%8B", id="zero-width-spaces"),
    pytest.param(b"Body=%EF%BF%BD", id="a-real-replacement-character"),
    pytest.param(b"Body=&NumMedia=0&Empty", id="blank-values"),
    pytest.param(b"a=1&a=2&&b=%2B%26%3D", id="repeats-and-escapes"),
    pytest.param(b"Body=100%25+sure+%25zz", id="percent-signs"),
    pytest.param(b"", id="empty-body"),
])
async def test_a_form_twilio_could_send_reads_exactly_as_starlette_reads_it(body: bytes) -> None:
    assert form_items(body) == await _starlette_form(body)


@pytest.mark.parametrize("body", [
    pytest.param(b"Body=%ED%A0%80", id="surrogate-spelled-in-utf8"),
    pytest.param(b"Body=%ED%BF%BF", id="low-surrogate-spelled-in-utf8"),
    pytest.param(b"Body=hi+%FF", id="byte-ff"),
    pytest.param(b"Body=%C3", id="truncated-sequence"),
    pytest.param(b"Body=%C0%80", id="overlong-nul"),
    pytest.param(b"Body=%F4%90%80%80", id="above-u10ffff"),
    pytest.param(b"%FF=1", id="in-a-name"),
    pytest.param(b"Body=caf\xc3\xa9", id="raw-utf8-bytes-not-escaped"),
    pytest.param(b"Body=caf\xe9", id="raw-latin-1-byte"),
    pytest.param(b"&".join(b"a=1" for _ in range(MAX_FIELDS + 1)), id="too-many-fields"),
])
def test_a_form_that_is_not_utf8_is_refused(body: bytes) -> None:
    with pytest.raises(InvalidForm):
        form_items(body)


@pytest.mark.parametrize("body,read_as", [
    pytest.param(b"Body=%ED%A0%80", "\ufffd\ufffd\ufffd", id="invalid-escape-replaced"),
    pytest.param(b"Body=caf\xc3\xa9", "caf\u00c3\u00a9", id="raw-bytes-read-as-latin-1"),
])
async def test_starlette_reads_such_forms_as_other_text_which_is_why_webform_exists(body: bytes,
                                                                                    read_as: str) -> None:
    """The installed Starlette replaces or re-reads what it cannot decode, never raising and never
    yielding a lone surrogate. Should an upgrade change that, this test says so."""
    assert await _starlette_form(body) == [("Body", read_as)]
