"""Routing's domain errors. Each carries the contract's error code, sent to the client as is."""

from __future__ import annotations


class RoutingError(Exception):
    """A routing step was refused; ``code`` is a contract error code, ``message`` says why."""

    def __init__(self, code: str, message: str, *, offer: str | None = None,
                 conversation: str | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        # Extra fields of the error frame (additions): which offer went, which conversation
        # a refused monitor named.
        self.offer = offer
        self.conversation = conversation


class IllegalTransition(RoutingError):
    """A state machine was asked for a transition it does not have (the message names both states)."""

    def __init__(self, machine: str, current: str, action: str) -> None:
        super().__init__("not_allowed", f"{machine} cannot {action} from state {current!r}")
        self.current = current
