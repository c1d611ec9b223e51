"""The sockets dispatch client frames by their class: every frame the wire parses has a handler."""

from __future__ import annotations

from typing import get_args

from chatd import wire
from chatd.peer import PeerConnection
from chatd.seeker import SeekerConnection


def test_every_peer_frame_has_a_handler() -> None:
    assert set(PeerConnection.HANDLERS) == set(get_args(wire.PeerFrame))


def test_every_seeker_frame_after_hello_has_a_handler() -> None:
    assert set(SeekerConnection.HANDLERS) | {wire.Hello} == set(get_args(wire.SeekerFrame))
