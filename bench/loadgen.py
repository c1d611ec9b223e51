"""A load generator process, driven by the bench through JSON lines on stdin/stdout.

Each command line ``{"op": ..., ...}`` gets exactly one reply line (``{"error": ...}`` when it
failed). The process holds its sockets between commands, so one set of seekers and peers
can be paired once and then measured at several rates. Times are ``time.monotonic_ns()``
(CLOCK_MONOTONIC, shared by every process on the machine), so a latency is the receiving
process's clock minus the timestamp the sending process put in the text.

Commands: ``open`` (websockets to a URL: chatd seekers, or either end of a relay that
``bench/wire.py`` describes: B2, P1, P2), ``hello``, ``peers`` (chatd consoles: login, socket,
shift start), ``first`` (each seeker's first message, spread over a window), ``report`` (offers
and assignments seen), ``rate`` (messages at a total rate for a duration), ``samples``
(latencies seen for one step), ``tally`` (messages sent, refused and received by conversation,
and those that reached the wrong one), ``sms`` (signed webhooks at a rate), ``close``, ``quit``.

Delivery is checked for every relay the same way: a message's text names its conversation
(``wire.bench_text``), and a receiver counts it as received only if it belongs to one of the
receiving socket's own conversations; otherwise it is *misrouted*.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bench.wire import WIRES, Kind, SocketIOWire, Wire, bench_text, parse_bench_text

OPEN_TIMEOUT_S = 30.0
REPLY_TIMEOUT_S = 60.0
LOGIN_CONCURRENCY = 8
HELLO_TRIES = 20


@dataclass(eq=False)
class Sock:
    ws: ClientConnection
    user: str = ""
    conv: str = ""
    sent: int = 0
    ready: asyncio.Event = field(default_factory=asyncio.Event)  # welcomed (or, for B2, open)
    answer: asyncio.Event = field(default_factory=asyncio.Event)  # a welcome, ack or error came
    last_error: str = ""
    reader: asyncio.Task[None] | None = None
    wire: Wire | None = None  # None: chatd's protocol
    convs: set[str] = field(default_factory=set)  # a chatd peer's assigned conversations
    tally_sent: int = 0  # messages sent since the last tally
    tally_refused: int = 0  # of which chatd refused (an error frame: not stored, not relayed)


def _ws_kwargs() -> dict[str, Any]:
    return {"compression": None, "open_timeout": OPEN_TIMEOUT_S, "ping_interval": None, "proxy": None,
            "max_size": 1 << 20, "close_timeout": 2}


class Generator:
    def __init__(self) -> None:
        self.seekers: list[Sock] = []
        self.peers: list[Sock] = []
        self.offers: dict[str, list[int]] = defaultdict(list)
        self.assigned: dict[str, list[str]] = defaultdict(list)
        self.samples: dict[int, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)  # error frames seekers got, by code
        self.dropped = 0
        self.received: dict[str, int] = defaultdict(int)  # bench messages by conversation, since the last tally
        # Messages sent in a step before the tally's period (``op_tally``'s ``from_step``) that
        # arrive after its reset: late, counted apart, never as a second delivery in this period.
        self.from_step = 0
        self.stragglers = 0
        self.misrouted = 0
        self.misrouted_examples: list[str] = []
        self.first_sent: set[str] = set()  # conversations whose first message op_first sent

    def _record(self, text: str, now: int, expected: tuple[str, ...] | set[str]) -> None:
        """Take a received bench message: its latency, and whether it reached its conversation."""
        parsed = parse_bench_text(text)
        if parsed is None:
            return  # not a bench message (a hello, the pairing's first message)
        step, sent, conv = parsed
        if conv not in expected:
            self.misrouted += 1
            if len(self.misrouted_examples) < 3:
                self.misrouted_examples.append(f"{conv} reached a socket of {sorted(expected)[:5]}")
            return
        if step < self.from_step:
            self.stragglers += 1
            return
        self.received[conv] += 1
        self.samples[step].append((now - sent) / 1e6)

    # --- readers ----------------------------------------------------------------------------
    async def _seeker_reader(self, s: Sock) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in s.ws:
                text = raw if isinstance(raw, str) else raw.decode()
                if text.startswith(('{"type": "error"', '{"type":"error"')):
                    s.last_error = str(json.loads(text).get("code"))
                    self.errors[s.last_error] += 1
                    if s.ready.is_set():
                        s.tally_refused += 1
                    s.answer.set()
                elif not s.ready.is_set():
                    if '"welcome"' in text:
                        s.conv = str(json.loads(text).get("conversation", ""))
                    s.ready.set()
                    s.answer.set()
                elif text.startswith(('{"type": "ack"', '{"type":"ack"')):
                    s.last_error = ""
                    s.answer.set()
        self.dropped += 1

    async def _peer_reader(self, s: Sock) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in s.ws:
                now = time.monotonic_ns()
                msg = json.loads(raw)
                kind = msg.get("type")
                if kind == "message" and msg.get("from", "seeker") == "seeker":
                    conv = msg.get("conversation")
                    self._record(str(msg.get("text", "")), now, (conv,) if conv in s.convs else ())
                elif kind == "offer":
                    self.offers[msg["conversation"]].append(now)
                    await s.ws.send(json.dumps({"type": "accept", "offer": msg["offer"]}))
                elif kind == "assigned":
                    self.assigned[msg["conversation"]].append(s.user)
                    s.convs.add(msg["conversation"])
                elif kind == "shift" and msg.get("state") == "on":
                    s.ready.set()
        if self.peers:  # not while closing on purpose
            print(f"socket of {s.user} closed: {s.ws.close_code} {s.ws.close_reason}", file=sys.stderr)
        self.dropped += 1

    async def _relay_reader(self, s: Sock, wire: Wire, receiver: bool) -> None:
        """Either end of a relay of ``bench/wire.py``: a receiver takes messages; any other frame
        answers the socket's own (a join's ack, an echo of its hello)."""
        with contextlib.suppress(ConnectionClosed):
            async for raw in s.ws:
                now = time.monotonic_ns()
                frame = wire.read(raw if isinstance(raw, str) else raw.decode())
                if frame.kind is Kind.PING and wire.pong is not None:
                    await s.ws.send(wire.pong)
                elif receiver and frame.kind is Kind.MESSAGE:
                    self._record(frame.text, now, (s.conv,))
                elif frame.kind is not Kind.OTHER:
                    s.ready.set()
                    s.answer.set()
        if self.peers:  # not while closing on purpose
            print(f"socket of {s.conv} closed: {s.ws.close_code} {s.ws.close_reason}", file=sys.stderr)
        self.dropped += 1

    # --- commands -----------------------------------------------------------------------------
    async def op_open(self, url: str, concurrency: int, n: int = 0, proto: str = "chatd", role: str = "s",
                      convs: list[str] | None = None) -> dict[str, Any]:
        """Open sockets (at most ``concurrency`` handshakes at once): ``n`` chatd seekers to ``url``,
        or, for a relay ``proto`` of ``bench/wire.py``, one socket of ``role`` (``s`` sender, ``p``
        receiver) for each of ``convs`` (default: ``n`` new conversations) on the server at ``url``."""
        wire = WIRES[proto] if proto != "chatd" else None
        targets = convs if convs is not None else [uuid.uuid4().hex for _ in range(n)]
        gate = asyncio.Semaphore(concurrency)
        errors: list[str] = []

        async def one(conv: str) -> None:
            async with gate:
                try:
                    if wire is None:
                        ws = await connect(url, **_ws_kwargs())
                    else:
                        ws = await connect(wire.url(url, role, conv), additional_headers=wire.headers(url),
                                           **_ws_kwargs())
                    if isinstance(wire, SocketIOWire):
                        try:
                            await _socketio_connect(ws)
                        except BaseException:
                            await ws.close()
                            raise
                except Exception as exc:
                    errors.append(repr(exc))
                    return
            s = Sock(ws, conv=conv if wire else "", wire=wire)
            if wire is None:
                s.reader = asyncio.create_task(self._seeker_reader(s))
            else:
                if role not in wire.hello_from:
                    s.ready.set()
                s.reader = asyncio.create_task(self._relay_reader(s, wire, receiver=role == "p"))
            (self.peers if role == "p" else self.seekers).append(s)

        t0 = time.monotonic_ns()
        await asyncio.gather(*(one(conv) for conv in targets))
        t1 = time.monotonic_ns()
        return {"t0": t0, "t1": t1, "opened": len(targets) - len(errors), "failed": len(errors),
                "errors": errors[:3]}

    async def op_hello(self, window: int, frame: str | None = None) -> dict[str, Any]:
        """Send ``frame`` (default: the relay's own hello, such as Socket.IO's ``join``) on every
        socket not yet welcomed, at most ``window`` awaiting an answer at once; an error answer
        (``unavailable``) is retried, as the protocol tells clients to."""
        todo = [s for s in [*self.seekers, *self.peers] if not s.ready.is_set()]
        gate = asyncio.Semaphore(window)
        retries = 0

        async def one(s: Sock) -> bool:
            nonlocal retries
            async with gate:
                for attempt in range(HELLO_TRIES):
                    s.answer.clear()
                    try:
                        await s.ws.send(_hello(s, frame))
                        await asyncio.wait_for(s.answer.wait(), REPLY_TIMEOUT_S)
                    except (ConnectionClosed, TimeoutError):
                        return False
                    if s.ready.is_set():
                        return True
                    retries += 1
                    await asyncio.sleep(0.05 * (attempt + 1))
            return False

        t0 = time.monotonic_ns()
        answered = sum(await asyncio.gather(*(one(s) for s in todo)))
        errors, self.errors = dict(self.errors), defaultdict(int)
        return {"t0": t0, "t1": time.monotonic_ns(), "answered": answered, "failed": len(todo) - answered,
                "retries": retries, "errors": errors}

    async def op_peers(self, base: str, users: list[str], password: str, capacity: int) -> dict[str, Any]:
        """Log each user in, open its console socket and start its shift."""
        ws_base = "ws" + base.removeprefix("http")
        gate = asyncio.Semaphore(LOGIN_CONCURRENCY)
        async def one(user: str) -> None:
            # A client (cookie jar) per login: a login request carrying another session's cookie
            # ends that session (protocol.md), which would close the other peer's socket.
            async with gate, httpx.AsyncClient(timeout=60.0, trust_env=False) as client:
                r = await client.post(f"{base}/api/login", json={"username": user, "password": password})
            if r.status_code != 200:
                raise RuntimeError(f"login {user}: HTTP {r.status_code}")
            cookie = r.cookies.get("chatd_session")
            ws = await connect(f"{ws_base}/ws/peer", additional_headers=[
                ("Origin", base), ("Cookie", f"chatd_session={cookie}")], **_ws_kwargs())
            s = Sock(ws, user=user)
            s.reader = asyncio.create_task(self._peer_reader(s))
            self.peers.append(s)
            await ws.send(json.dumps({"type": "shift", "action": "start", "capacity": capacity}))
            await asyncio.wait_for(s.ready.wait(), REPLY_TIMEOUT_S)

        await asyncio.gather(*(one(u) for u in users))
        return {"ready": len(users)}

    async def op_first(self, window_s: float) -> dict[str, Any]:
        """Each seeker's first message, spread evenly over ``window_s``, retried with the same
        client_id while the answer is ``unavailable`` (as the protocol tells clients); returns the
        first attempt's time by conversation, and how many seekers never got an ack."""
        # Only seekers that have not sent it yet: the scale figure adds seekers between calls.
        socks = [s for s in self.seekers if s.conv and s.conv not in self.first_sent]
        self.first_sent.update(s.conv for s in socks)
        sent: dict[str, int] = {}
        retries = 0

        async def one(s: Sock, at: float) -> bool:
            nonlocal retries
            await asyncio.sleep(max(0.0, at - time.monotonic()))
            frame = json.dumps({"type": "message", "client_id": "first", "text": "hello, is anyone there to talk to?"})
            sent[s.conv] = time.monotonic_ns()
            for attempt in range(HELLO_TRIES):
                s.answer.clear()
                try:
                    await s.ws.send(frame)
                    await asyncio.wait_for(s.answer.wait(), REPLY_TIMEOUT_S)
                except (ConnectionClosed, TimeoutError):
                    return False
                if not s.last_error:
                    return True
                retries += 1
                await asyncio.sleep(0.1 * (attempt + 1))
            return False

        t0 = time.monotonic()
        acked = await asyncio.gather(*(one(s, t0 + window_s * i / max(1, len(socks))) for i, s in enumerate(socks)))
        errors, self.errors = dict(self.errors), defaultdict(int)
        return {"sent": sent, "unacked": acked.count(False), "retries": retries, "errors": errors}

    async def op_report(self) -> dict[str, Any]:
        return {"offers": self.offers, "assigned": self.assigned, "dropped": self.dropped}

    async def op_rate(self, rate: float, duration_s: float, step: int) -> dict[str, Any]:
        """Messages round-robin over the ready seekers at ``rate`` a second for ``duration_s``."""
        socks = [s for s in self.seekers if s.ready.is_set()]
        n = int(rate * duration_s)
        failed = 0
        t0 = time.monotonic()
        for i in range(n):
            delay = t0 + i / rate - time.monotonic()
            if delay > 0.001:
                await asyncio.sleep(delay)
            s = socks[i % len(socks)]
            s.sent += 1
            text = bench_text(step, time.monotonic_ns(), s.conv)
            if s.wire is None:
                frame = json.dumps({"type": "message", "client_id": f"c{s.sent}", "text": text})
            else:
                frame = s.wire.message(s.conv, s.sent, text)
            try:
                await s.ws.send(frame)
            except ConnectionClosed:
                failed += 1
            else:
                s.tally_sent += 1
        errors, self.errors = dict(self.errors), defaultdict(int)
        return {"sent": n - failed, "failed": failed, "elapsed_s": time.monotonic() - t0, "errors": errors}

    async def op_samples(self, step: int) -> dict[str, Any]:
        return {"lat_ms": self.samples.pop(step, [])}

    async def op_tally(self, reset: bool = True, from_step: int = 0) -> dict[str, Any]:
        """Messages sent (and refused) by conversation on this generator's senders, received by
        conversation on its receivers, misrouted, and stragglers (sent before the period),
        since the last reset; then (``reset``) start afresh, the new period's messages being
        those sent in ``from_step`` or later: an earlier one still on its way when a relay is
        behind is late, not a second delivery of the new period's."""
        sent = {s.conv: s.tally_sent for s in self.seekers if s.tally_sent}
        refused = {s.conv: s.tally_refused for s in self.seekers if s.tally_refused}
        reply = {"sent": sent, "refused": refused, "received": dict(self.received), "misrouted": self.misrouted,
                 "misrouted_examples": list(self.misrouted_examples), "stragglers": self.stragglers}
        if reset:
            for s in self.seekers:
                s.tally_sent = s.tally_refused = 0
            self.received, self.misrouted, self.misrouted_examples = defaultdict(int), 0, []
            self.stragglers, self.from_step = 0, from_step
        return reply

    async def op_sms(self, url: str, token: str, rate: float, duration_s: float, numbers: int) -> dict[str, Any]:
        """Signed inbound-SMS webhooks at ``rate`` a second; latency of each answer."""
        from sms.signature import compute_signature

        lat: list[float] = []
        bad: list[int] = []
        errors: list[str] = []

        async def one(client: httpx.AsyncClient, i: int) -> None:
            params = {"AccountSid": "AC" + "0" * 32, "From": f"+1613555{i % numbers:04d}", "To": "+15550100000",
                      "Body": f"bench text {i}", "MessageSid": "SM" + uuid.uuid4().hex, "NumMedia": "0"}
            headers = {"X-Twilio-Signature": compute_signature(token, url, params)}
            t = time.monotonic_ns()
            try:
                r = await client.post(url, data=params, headers=headers)
            except httpx.HTTPError as exc:
                errors.append(repr(exc))
                return
            lat.append((time.monotonic_ns() - t) / 1e6)
            if r.status_code != 200:
                bad.append(r.status_code)

        n = int(rate * duration_s)
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        async with httpx.AsyncClient(timeout=10.0, trust_env=False, limits=limits) as client:
            tasks = []
            t0 = time.monotonic()
            for i in range(n):
                delay = t0 + i / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(one(client, i)))
            await asyncio.gather(*tasks)
        return {"lat_ms": lat, "bad": bad[:10], "n_bad": len(bad), "errors": errors[:3], "n_errors": len(errors)}

    async def op_close(self) -> dict[str, Any]:
        socks = [*self.seekers, *self.peers]
        self.seekers, self.peers = [], []

        async def one(s: Sock) -> None:
            with contextlib.suppress(Exception):
                await s.ws.close()
            if s.reader is not None:
                s.reader.cancel()
                with contextlib.suppress(BaseException):
                    await s.reader

        gate = asyncio.Semaphore(256)

        async def gated(s: Sock) -> None:
            async with gate:
                await one(s)

        await asyncio.gather(*(gated(s) for s in socks))
        self.dropped = 0
        return {"closed": len(socks)}


def _hello(s: Sock, frame: str | None) -> str:
    if frame is not None:
        return frame
    if s.wire is None:
        raise ValueError("a chatd socket's hello needs its frame")
    return s.wire.hello(s.conv)


async def _socketio_connect(ws: ClientConnection) -> None:
    """Engine.IO's open packet, then Socket.IO's connect to the default namespace."""
    opened = await asyncio.wait_for(ws.recv(), OPEN_TIMEOUT_S)
    if not isinstance(opened, str) or not SocketIOWire.is_open(opened):
        raise RuntimeError(f"not an Engine.IO open packet: {opened!r}")
    await ws.send(SocketIOWire.CONNECT)
    connected = await asyncio.wait_for(ws.recv(), OPEN_TIMEOUT_S)
    if not isinstance(connected, str) or not SocketIOWire.is_connected(connected):
        raise RuntimeError(f"Socket.IO connect refused: {connected!r}")


async def serve() -> None:
    gen = Generator()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=64 * 1024 * 1024)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = await reader.readline()
        if not line:
            break
        command: dict[str, Any] = json.loads(line)
        op = command.pop("op")
        if op == "quit":
            break
        try:
            reply = await getattr(gen, f"op_{op}")(**command)
        except Exception as exc:
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
    await gen.op_close()


if __name__ == "__main__":
    asyncio.run(serve())
