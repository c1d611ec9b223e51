"""A webhook's form body, decoded strictly: UTF-8 or refused.

Twilio posts ``application/x-www-form-urlencoded`` bodies, every byte outside ASCII
percent-encoded, the decoded text UTF-8. Starlette's own parser (``request.form()``, starlette
1.10 with python-multipart 0.0.34) is lenient in two ways that would change a texter's words
without a trace: an invalid UTF-8 escape (``%FF``, a lone surrogate spelled ``%ED%A0%80``, an
overlong ``%C0%80``) becomes U+FFFD REPLACEMENT CHARACTER (``urllib.parse.unquote_plus`` with
``errors="replace"``), and a raw non-ASCII byte is read as Latin-1 (raw ``café`` becomes
``cafÃ©``). Neither can come from Twilio, and a Twilio signature cannot match either, but a
webhook should refuse what it cannot read exactly rather than read something else.

:func:`form_items` gives the same ``(name, value)`` pairs as ``request.form()`` for every body
Twilio sends, and refuses the rest. It never yields a lone surrogate: strict UTF-8 has none.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

# As many fields as Starlette's form parser allows by default; Twilio sends about twenty.
MAX_FIELDS = 1000


class InvalidForm(ValueError):
    """The body is not a form Twilio could have sent: raw non-ASCII bytes, an escape that is
    not UTF-8, or too many fields. The webhook answers 400 and changes nothing."""


def form_items(body: bytes) -> list[tuple[str, str]]:
    """The body's ``(name, value)`` pairs in order (repeats kept, ``+`` a space, blank values
    kept), decoded as UTF-8 with no replacement; :class:`InvalidForm` when that is impossible.
    """
    try:
        text = body.decode("ascii")
        return parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict",
                         max_num_fields=MAX_FIELDS)
    except UnicodeDecodeError:
        raise InvalidForm("the form is not percent-encoded UTF-8") from None
    except ValueError:
        raise InvalidForm(f"the form has more than {MAX_FIELDS} fields") from None
