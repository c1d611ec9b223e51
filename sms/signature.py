"""Twilio webhook signatures (``X-Twilio-Signature``), checked with the official validator.

Twilio signs the URL it requested (scheme, host, path, query) followed by every form
parameter sorted by name. We rebuild that URL from ``CHATD_PUBLIC_URL`` and the request's
path and query, never from the ``Host`` header: behind a proxy the Host header is
whatever the proxy sends, and trusting it would let anyone choose the URL the signature
is checked against. Twilio's validator also tries the URL with and without the default
port (``:443``/``:80``), because Twilio's own signing is inconsistent about it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence

from twilio.request_validator import RequestValidator

SIGNATURE_HEADER = "X-Twilio-Signature"

FormItems = Iterable[tuple[str, str]]


class _MultiParams:
    """Form parameters with repeats kept, in the ``getlist`` shape the validator reads."""

    def __init__(self, items: FormItems) -> None:
        self._values: dict[str, list[str]] = {}
        for name, value in items:
            self._values.setdefault(name, []).append(value)

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __bool__(self) -> bool:
        return bool(self._values)

    def getlist(self, name: str) -> Sequence[str]:
        return self._values[name]


def _items(params: FormItems | Mapping[str, str]) -> FormItems:
    return params.items() if isinstance(params, Mapping) else params


def webhook_url(public_url: str, path: str, query: str = "") -> str:
    """The URL Twilio called: the configured public base, the path, the raw query if any."""
    url = public_url.rstrip("/") + "/" + path.lstrip("/")
    return f"{url}?{query}" if query else url


def compute_signature(auth_token: str, url: str, params: FormItems | Mapping[str, str]) -> str:
    """The ``X-Twilio-Signature`` Twilio would send for a POST of ``params`` to ``url``."""
    validator = RequestValidator(auth_token)
    return str(validator.compute_signature(url, _MultiParams(_items(params))))


def is_valid_signature(auth_token: str, url: str, params: FormItems | Mapping[str, str],
                       signature: str | None) -> bool:
    """Whether ``signature`` is Twilio's for ``url`` and exactly these parameters.

    ``params`` should be every form field as received, repeats included (a Starlette
    ``FormData.multi_items()``); a missing or empty signature is never valid.
    """
    if not signature or not auth_token:
        return False
    validator = RequestValidator(auth_token)
    return bool(validator.validate(url, _MultiParams(_items(params)), signature))


def is_valid_request(auth_token: str, public_url: str, path: str, query: str,
                     params: FormItems | Mapping[str, str], signature: str | None) -> bool:
    """:func:`is_valid_signature` for a request to ``path?query`` under the public URL."""
    return is_valid_signature(auth_token, webhook_url(public_url, path, query), params, signature)
