"""Errors of the SMS bridge.

The hierarchy::

    SmsError
    ├── SendError                 a Messages API request did not create a message
    │   ├── RetryableSendError    network error, timeout, 5xx, 429: try again later
    │   └── PermanentSendError    4xx with a Twilio error code: never retried
    └── OutboxError               a message could not be accepted into the outbox
"""

from __future__ import annotations


class SmsError(Exception):
    """Base of every error raised by the ``sms`` package."""


class SendError(SmsError):
    """A send failed; ``code`` is Twilio's error code (or our own short tag) for the peer's view.

    ``code`` never contains the phone number or the message text, so it is safe to log.
    """

    retryable: bool = False

    def __init__(self, code: str, *, status: int | None = None) -> None:
        super().__init__(f"SMS send failed: code={code} status={status}")
        self.code = code
        self.status = status


class RetryableSendError(SendError):
    """The send may succeed if tried again: network error, timeout, HTTP 5xx or 429."""

    retryable = True


class PermanentSendError(SendError):
    """Twilio refused the message for good (opted-out or invalid number, ...)."""


class OutboxError(SmsError):
    """A message was refused by the outbox (conversation backlog full, text too long)."""

    def __init__(self, code: str) -> None:
        super().__init__(f"SMS outbox refused the message: {code}")
        self.code = code
