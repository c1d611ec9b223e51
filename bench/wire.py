"""How the load generator speaks to each relay it drives: B2 and the peers P1 and P2.

I/O-free: each :class:`Wire` says which URL a socket opens, which frames a client sends and
what a received frame means; ``bench/loadgen.py`` does the sending and receiving. chatd's
own protocol (hello, offers, shifts) stays in the load generator, which was written for it.

Every relayed message's text is ``"STEP SENT_NS CONV"``: the figure step it belongs to, the
sender's ``time.monotonic_ns()`` and the conversation (room, group, pair) it was sent to, so a
receiver can take the latency *and* check that the message reached the conversation it was
meant for (:func:`bench_text`, :func:`parse_bench_text`).

- **B2** (``b2``): ``/s/CONV`` and ``/p/CONV``; chatd's message frame, relayed as is.
- **P1** (``channels``): Django Channels' chat tutorial: ``/ws/chat/CONV/`` for both ends,
  frames ``{"message": TEXT}``; the group sends every message back to its sender as well.
- **P2** (``socketio``): Socket.IO 5 over Engine.IO 4 on a plain websocket
  (``/socket.io/?EIO=4&transport=websocket``). The server opens with ``0{...}``; the client
  connects to the default namespace with ``40`` and is answered ``40{"sid":...}``; events are
  ``42["name",data]``, with an ack id ``42ID[...]`` answered by ``43ID[...]``; the server pings
  with ``2`` and the client must answer ``3``. ``join`` enters a room; ``chat`` sends to it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar


class Kind(Enum):
    """What a received frame is to the load generator."""

    MESSAGE = "message"  # a relayed message (its text in ``Frame.text``)
    ANSWER = "answer"  # an answer to the client's own frame: a welcome, ack or echo
    PING = "ping"  # the server asks for a pong (``Wire.pong``)
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Frame:
    kind: Kind
    text: str = ""


def bench_text(step: int, sent_ns: int, conv: str) -> str:
    return f"{step} {sent_ns} {conv}"


def parse_bench_text(text: str) -> tuple[int, int, str] | None:
    """(step, sent_ns, conv) of a bench message's text; None for any other text."""
    parts = text.split(" ")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        return None
    return int(parts[0]), int(parts[1]), parts[2]


class Wire:
    """One relay's client side: URL, frames out, frames in."""

    name: ClassVar[str]
    pong: ClassVar[str | None] = None
    # The roles (``s`` sender, ``p`` receiver) whose sockets say ``hello`` and wait for its answer
    # before they count as ready: the rest are in their conversation once open.
    hello_from: ClassVar[frozenset[str]] = frozenset()

    def url(self, base: str, role: str, conv: str) -> str:
        raise NotImplementedError

    def headers(self, base: str) -> list[tuple[str, str]]:
        """Extra handshake headers for a socket to ``base`` (``ws://host:port``)."""
        return []

    def hello(self, conv: str) -> str:
        raise NotImplementedError

    def message(self, conv: str, n: int, text: str) -> str:
        raise NotImplementedError

    def read(self, raw: str) -> Frame:
        raise NotImplementedError


class B2Wire(Wire):
    name = "b2"

    def url(self, base: str, role: str, conv: str) -> str:
        return f"{base}/{role}/{conv}"

    def hello(self, conv: str) -> str:
        return json.dumps({"type": "hello", "lang": "en"})

    def message(self, conv: str, n: int, text: str) -> str:
        return json.dumps({"type": "message", "client_id": f"c{n}", "text": text})

    def read(self, raw: str) -> Frame:
        msg = json.loads(raw)
        if msg.get("type") == "message":
            return Frame(Kind.MESSAGE, str(msg.get("text", "")))
        return Frame(Kind.ANSWER)


class ChannelsWire(Wire):
    name = "channels"
    # In its group from the handshake on; a sender's hello comes back to it as an echo, which is
    # the answer figure 1 waits for.
    hello_from = frozenset({"s"})

    def url(self, base: str, role: str, conv: str) -> str:
        return f"{base}/ws/chat/{conv}/"

    def headers(self, base: str) -> list[tuple[str, str]]:
        # The tutorial's AllowedHostsOriginValidator refuses a socket without an Origin, as a
        # browser's would carry.
        return [("Origin", "http" + base.removeprefix("ws"))]

    def hello(self, conv: str) -> str:
        return json.dumps({"message": "hello"})

    def message(self, conv: str, n: int, text: str) -> str:
        return json.dumps({"message": text})

    def read(self, raw: str) -> Frame:
        msg: dict[str, Any] = json.loads(raw)
        return Frame(Kind.MESSAGE, str(msg.get("message", "")))


class SocketIOWire(Wire):
    name = "socketio"
    pong = "3"
    hello_from = frozenset({"s", "p"})
    CONNECT = "40"

    def url(self, base: str, role: str, conv: str) -> str:
        return f"{base}/socket.io/?EIO=4&transport=websocket"

    def hello(self, conv: str) -> str:
        return "420" + json.dumps(["join", conv])

    def message(self, conv: str, n: int, text: str) -> str:
        return f"42{n}" + json.dumps(["chat", {"room": conv, "text": text}])

    def read(self, raw: str) -> Frame:
        if raw == "2":
            return Frame(Kind.PING)
        if raw.startswith("43"):
            return Frame(Kind.ANSWER)
        if raw.startswith("42"):
            event = json.loads(raw[raw.index("["):])
            if event[0] == "chat":
                return Frame(Kind.MESSAGE, str(event[1].get("text", "")))
        return Frame(Kind.OTHER)

    @staticmethod
    def is_open(raw: str) -> bool:
        """The Engine.IO open packet the server sends first."""
        return raw.startswith("0{")

    @staticmethod
    def is_connected(raw: str) -> bool:
        """The answer to ``40``: connected to the default namespace."""
        return raw.startswith("40")


WIRES: dict[str, Wire] = {w.name: w for w in (B2Wire(), ChannelsWire(), SocketIOWire())}
