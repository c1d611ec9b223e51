"""The one structlog chain: contextvars, a redaction processor, JSON (or console) output.

Event names are fixed and greppable (``conversation.queued``, ``offer.expired``). The
redaction processor is the last line of defence: callers never pass message texts, phone
numbers, tokens or cookies, and if one slips in under a known key it is dropped here.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

# Keys whose values are never written, whatever the caller passed.
REDACTED_KEYS = frozenset({
    "text", "body", "message_text", "password", "token", "resume", "cookie", "session",
    "phone", "number", "from_number", "to_number", "to", "from_", "authorization", "secret",
    "auth_token", "signature",
})
# A phone-number-like run of digits anywhere in a string value (E.164 and North American forms).
# A run of 10 or more digits (separators allowed) that is not part of a longer word: a hex id
# (a conversation, a MessageSid) has letters around its digit runs and is left whole, so an
# operator can still trace it.
_PHONE_RE = re.compile(r"(?:\+|(?<![0-9A-Za-z]))\d[\d\s().-]{8,}\d(?![0-9A-Za-z])")


def redact(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Drop private keys and mask phone-number-like digit runs in string values."""
    for key in list(event_dict):
        if key.lower() in REDACTED_KEYS:
            event_dict[key] = "[redacted]"
        else:
            value = event_dict[key]
            if isinstance(value, str) and key not in ("timestamp", "level") and _PHONE_RE.search(value):
                event_dict[key] = _PHONE_RE.sub("[number]", value)
    return event_dict


class SafeStderrLogger:
    """structlog's sink: one line to the current ``sys.stderr``, and never an exception.

    Logging must not break serving: a full disk, a closed pipe or a stream swapped by a
    supervisor loses the line, not the request. The stream is looked up at each write, not
    held from configuration time.
    """

    def msg(self, message: str) -> None:
        with contextlib.suppress(OSError, ValueError):
            print(message, file=sys.stderr, flush=True)

    log = debug = info = warn = warning = error = critical = exception = fatal = msg


def _safe_logger_factory(*_: Any) -> SafeStderrLogger:
    return SafeStderrLogger()


class _SafeStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The stdlib side (uvicorn's own errors): current stderr, and a failed write is dropped."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        with contextlib.suppress(OSError, ValueError):
            super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:
        pass


def configure_logging(fmt: str = "json", level: str = "info") -> None:
    """Configure structlog (and route stdlib logging through the same output)."""
    level_no = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    renderer: Any = (structlog.processors.JSONRenderer() if fmt == "json"
                     else structlog.dev.ConsoleRenderer(colors=False))
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact,
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level_no),
        logger_factory=_safe_logger_factory,
        cache_logger_on_first_use=False,
    )
    # uvicorn's access log would print query strings and client addresses: it stays off,
    # and its error log goes through the same redaction.
    handler = _SafeStreamHandler(sys.stderr)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        processor=renderer, foreign_pre_chain=[*shared[:-1], _stdlib_message_redact, redact]))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(max(level_no, logging.INFO))
    logging.getLogger("uvicorn.access").disabled = True
    # uvicorn's info lines name each client address ('127.0.0.1:5530 - "WebSocket /ws/seeker"'):
    # a seeker's address is identifying, so only its warnings and errors are kept.
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)


def _stdlib_message_redact(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    event = event_dict.get("event")
    if isinstance(event, str):
        event_dict["event"] = _PHONE_RE.sub("[number]", event)
    return event_dict


def get_logger(name: str) -> Any:
    """A bound logger named after its module."""
    return structlog.get_logger(name)
