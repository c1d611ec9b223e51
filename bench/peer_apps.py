"""The peers: the frameworks a Python team would build this service with instead of chatd.

Each is a chat relay written as its framework's own documentation builds one, run as two
processes against the phase's Redis, and driven by the same load generators as chatd and the
baselines (``bench/wire.py`` says how each is spoken to). They are installed only for the bench:
``pip install -e ".[bench]"``.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PeerApp:
    key: str  # "p1": the results' "p1_idle", "p1_relay"
    name: str  # in the table
    module: str  # ``python -m MODULE PORT REDIS_URL`` serves it
    wire: str  # a name in bench.wire.WIRES
    needs: tuple[str, ...]  # modules the bench extra installs

    @property
    def label(self) -> str:
        return self.key.upper()

    def missing(self) -> list[str]:
        return [m for m in self.needs if importlib.util.find_spec(m) is None]


PEER_APPS = (
    PeerApp("p1", "Django Channels", "bench.p1_channels", "channels", ("django", "channels", "channels_redis")),
    PeerApp("p2", "python-socketio", "bench.p2_socketio", "socketio", ("socketio", "engineio")),
)
