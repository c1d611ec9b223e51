"""The bench's orchestration: phases, figures, the results file and the table.

One run has its phases, each with its own fresh Redis and processes (so one phase's
leftovers never load the next): B1, B1u and chatd holding idle seekers (figures 1 and 6), then
B2 + B3 and chatd relaying between paired seekers and peers across two processes while
signed SMS webhooks arrive (figures 2, 3, 5; chatd's pairing burst gives figure 4); then each
peer (``bench/peer_apps.py``) holding idle sockets and relaying (figures 1, 2, 3, 6).
Full mode repeats the run (``--runs``) and reports the median of each figure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.delivery import delivery
from bench.deploy import DEPLOYMENTS, Backing, Deployment
from bench.peer_apps import PEER_APPS, PeerApp
from bench.procs import (
    BenchError,
    Loadgen,
    Pinning,
    Procs,
    clean_env,
    free_port,
    raise_fd_limit,
    rss_bytes,
    start_redis,
    wait_http,
    wait_port,
)
from bench.report import figures, git_commit, machine, problems
from bench.stats import median, percentile, table

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"
PASSWORD = "bench-password-0"
P99_BOUND_MS = 50.0
DRAIN_S = 1.5
HELLO = json.dumps({"type": "hello", "lang": "en"})
# Hellos awaiting their welcome per load generator: a bounded client window (see _hold_idle).
HELLO_WINDOW = 20
# How long after figure 2's last window a message may still arrive before it counts as lost.
LATE_S = 10.0
# Set once by ``--redis-unix``: every phase's servers reach its Redis on a Unix socket.
REDIS_UNIX = {"on": False}
# Set once by ``--deployment``: what chatd's own phases run chatd against (bench/deploy.py).
DEPLOYMENT = {"now": Deployment("single")}


@dataclass(frozen=True, slots=True)
class Sizes:
    idle_sockets: int
    hold_procs: int
    connect_concurrency: int  # handshakes in flight per load generator
    pairs: int
    peers: int
    capacity: int
    burst_s: float
    relay_windows: int
    window_s: float
    per_pair_rates: tuple[float, ...]  # saturation steps, messages a second per pair
    step_s: float
    sms_rate: float
    sms_numbers: int
    settle_s: float


FULL = Sizes(idle_sockets=10_000, hold_procs=4, connect_concurrency=50, pairs=1000, peers=200, capacity=5,
             burst_s=10.0, relay_windows=3, window_s=10.0,
             per_pair_rates=(0.5, 0.75, 1, 1.25, 1.5, 1.75, 2, 2.5, 3, 3.5, 4, 5, 6, 7), step_s=5.0,
             sms_rate=50.0, sms_numbers=20, settle_s=3.0)
QUICK = Sizes(idle_sockets=300, hold_procs=2, connect_concurrency=25, pairs=50, peers=10, capacity=5,
              burst_s=2.0, relay_windows=1, window_s=2.0, per_pair_rates=(1, 4, 7), step_s=1.0,
              sms_rate=20.0, sms_numbers=5, settle_s=0.5)


def _log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@contextlib.asynccontextmanager
async def phase(name: str, workdir: Path, pinning: Pinning) -> AsyncIterator[Procs]:
    d = workdir / name
    d.mkdir(parents=True, exist_ok=True)
    procs = Procs(d, pinning, redis_unix=REDIS_UNIX["on"])
    _log(f"phase {name}")
    try:
        yield procs
    finally:
        await procs.close()


def _chatd_env(backing: Backing, port: int, data_dir: Path, secret: str, public_port: int | None = None
               ) -> dict[str, str]:
    return clean_env(CHATD_REDIS_URL=backing.redis_url, CHATD_PORT=str(port), CHATD_HOST="127.0.0.1",
                     CHATD_PUBLIC_URL=f"http://127.0.0.1:{public_port or port}", CHATD_DATA_DIR=str(data_dir),
                     CHATD_SECRET_KEY=secret, CHATD_KEY_PREFIX="bench", CHATD_LOG_LEVEL="warning",
                     CHATD_LOG_FORMAT="json", CHATD_DEMO_ACCOUNT="0", **backing.env)


async def _start_chatd(procs: Procs, backing: Backing, secret: str, webs: int) -> list[tuple[int, int]]:
    """A worker and ``webs`` web processes; returns (port, pid) of each web process."""
    data_dir = procs.workdir / "data"
    data_dir.mkdir(exist_ok=True)
    # The database made and migrated first: chatd checks its schema at start, and a worker that
    # looked while a web process was still creating the file found version 0 and exited.
    from records import open_records

    await (await open_records(backing.database)).close()
    ports = [free_port() for _ in range(webs)]
    # The worker's public URL is web1's: the SMS simulator posts its status callbacks there.
    await procs.python("worker", "chatd", "worker", server=True,
                       env=_chatd_env(backing, free_port(), data_dir, secret, public_port=ports[0]))
    out = []
    for i, port in enumerate(ports):
        proc = await procs.python(f"web{i + 1}", "chatd", "web", server=True,
                                  env=_chatd_env(backing, port, data_dir, secret))
        out.append((port, proc.pid))
    for port, _ in out:
        await wait_http(f"http://127.0.0.1:{port}/healthz", procs)
    return out


async def _create_accounts(database: Path | str, users: list[str]) -> None:
    """Trained peer accounts, hashed once (argon2 costs ~0.1 s a hash) and stored directly in the
    SQLite file or PostgreSQL database (migrated first, by ``open_records``)."""
    from peers import accounts
    from records import open_records

    if isinstance(database, Path):
        database.parent.mkdir(parents=True, exist_ok=True)
    hashed = await asyncio.to_thread(accounts.HASHER.hash, PASSWORD)
    store = await open_records(database)
    try:
        for user in users:
            accounts.validate(user, f"Peer {user}", "peer", PASSWORD)
            await store.add_supporter(user, f"Peer {user}", "peer", True, hashed, int(time.time() * 1000))
    finally:
        await store.close()


def _sum_counts(counts: Iterable[dict[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for c in counts:
        for k, v in c.items():
            total[k] = total.get(k, 0) + v
    return total


def _split(n: int, parts: int) -> list[int]:
    return [n // parts + (1 if i < n % parts else 0) for i in range(parts)]


# --- figures 1 and 6: idle sockets ---------------------------------------------------------------
async def _hold_idle(procs: Procs, url: str, pid: int, sizes: Sizes, proto: str = "chatd") -> dict[str, float]:
    """Figures 1 and 6 on one server process: ``proto`` ``chatd`` (also B1, B1u) or a peer's wire."""
    gens = [await Loadgen.start(procs, f"hold{i}") for i in range(sizes.hold_procs)]
    hello = HELLO if proto == "chatd" else None  # None: the wire's own hello
    # Warm-up: the first sockets load code and fill caches, which is not a per-socket cost.
    await gens[0].call(60, op="open", url=url, n=100, concurrency=sizes.connect_concurrency, proto=proto)
    await gens[0].call(90, op="hello", frame=hello, window=HELLO_WINDOW)
    await gens[0].call(60, op="close")
    await asyncio.sleep(1.0)
    rss0 = rss_bytes(pid)
    opens = await asyncio.gather(*(g.call(600, op="open", url=url, n=m, concurrency=sizes.connect_concurrency,
                                          proto=proto)
                                   for g, m in zip(gens, _split(sizes.idle_sockets, len(gens)), strict=True)))
    opened = sum(o["opened"] for o in opens)
    if opened < sizes.idle_sockets:
        raise BenchError(f"only {opened} of {sizes.idle_sockets} sockets opened: {opens[0]['errors']}")
    span_s = (max(o["t1"] for o in opens) - min(o["t0"] for o in opens)) / 1e9
    hellos = await asyncio.gather(*(g.call(600, op="hello", frame=hello, window=HELLO_WINDOW) for g in gens))
    held = sum(h["answered"] for h in hellos)
    hello_s = (max(h["t1"] for h in hellos) - min(h["t0"] for h in hellos)) / 1e9
    await asyncio.sleep(sizes.settle_s)
    procs.check_alive()
    rss1 = rss_bytes(pid)
    await asyncio.gather(*(g.call(300, op="close") for g in gens))
    return {"bytes_per_socket": (rss1 - rss0) / held, "connect_rate": opened / span_s, "held": held,
            "hello_retries": sum(h["retries"] for h in hellos), "hellos_per_s": held / hello_s,
            "hello_errors": _sum_counts(h["errors"] for h in hellos),
            "rss0_mib": rss0 / 2**20, "rss1_mib": rss1 / 2**20}


async def phase_b1(workdir: Path, pinning: Pinning, sizes: Sizes) -> dict[str, float]:
    async with phase("b1", workdir, pinning) as procs:
        port = free_port()
        proc = await procs.python("b1", "bench.baselines", "b1", str(port), server=True)
        await wait_port(port, procs)
        return await _hold_idle(procs, f"ws://127.0.0.1:{port}/", proc.pid, sizes)


async def phase_b1u(workdir: Path, pinning: Pinning, sizes: Sizes) -> dict[str, float]:
    async with phase("b1u", workdir, pinning) as procs:
        port = free_port()
        proc = await procs.python("b1u", "bench.baselines", "b1u", str(port), server=True)
        await wait_port(port, procs)
        return await _hold_idle(procs, f"ws://127.0.0.1:{port}/", proc.pid, sizes)


async def phase_chatd_idle(workdir: Path, pinning: Pinning, sizes: Sizes) -> dict[str, float]:
    async with phase("chatd-idle", workdir, pinning) as procs, DEPLOYMENT["now"].backing(procs) as backing:
        [(port, pid)] = await _start_chatd(procs, backing, secrets.token_hex(16), webs=1)
        return await _hold_idle(procs, f"ws://127.0.0.1:{port}/ws/seeker", pid, sizes)


async def phase_peer_idle(workdir: Path, pinning: Pinning, sizes: Sizes, peer: PeerApp) -> dict[str, float]:
    async with phase(f"{peer.key}-idle", workdir, pinning) as procs:
        redis_url = await start_redis(procs)
        port = free_port()
        proc = await procs.python(peer.key, peer.module, str(port), redis_url, server=True)
        await wait_port(port, procs)
        return await _hold_idle(procs, f"ws://127.0.0.1:{port}", proc.pid, sizes, proto=peer.wire)


# --- figures 2, 3, 5: relay (and 4: pairing) ---------------------------------------------------
@dataclass
class Relay:
    seekers: list[Loadgen]
    peers: list[Loadgen]
    sms: Loadgen | None = None  # figure 5's webhooks: chatd's and B3's, not the peers'
    sms_url: str = ""
    sms_token: str = ""

    @property
    def gens(self) -> list[Loadgen]:
        return [*self.seekers, *self.peers]

    async def tally(self, reset: bool, from_step: int = 0) -> list[dict[str, Any]]:
        return [await g.call(60, op="tally", reset=reset, from_step=from_step) for g in self.gens]


async def _step(relay: Relay, rate: float, duration_s: float, step: int) -> dict[str, Any]:
    sends = await asyncio.gather(*(g.call(duration_s + 60, op="rate", rate=rate / len(relay.seekers),
                                          duration_s=duration_s, step=step) for g in relay.seekers))
    await asyncio.sleep(DRAIN_S)
    lat: list[float] = []
    for g in relay.peers:
        lat += (await g.call(60, op="samples", step=step))["lat_ms"]
    sent = sum(s["sent"] for s in sends)
    return {"errors": _sum_counts(s["errors"] for s in sends), "rate": rate, "sent": sent, "received": len(lat),
            "delivered_per_s": len(lat) / duration_s,
            "p50_ms": percentile(lat, 50), "p99_ms": percentile(lat, 99), "max_ms": max(lat, default=None)}


FIGURE3_FIRST_STEP = 100  # figure 2's windows are steps 1, 2, 3; figure 3's 100, 101, ...


async def _measure_relay(relay: Relay, sizes: Sizes, procs: Procs, webhook_server: str = "") -> dict[str, Any]:
    """Figure 2 (with figure 5's webhooks at the same time), then figure 3's rate steps.

    Also the servers' CPU time during figure 2's windows per message received (figure 2c):
    every server process of the phase (Redis included) but ``webhook_server`` (B3, a process of
    its own; chatd's webhooks run in its web process and count)."""
    duration_s = sizes.relay_windows * sizes.window_s
    sms = None if relay.sms is None else asyncio.create_task(relay.sms.call(
        duration_s + 120, op="sms", url=relay.sms_url, token=relay.sms_token, rate=sizes.sms_rate,
        duration_s=duration_s, numbers=sizes.sms_numbers))
    await relay.tally(reset=True)  # count figure 2's messages only (not the pairing's)
    cpu_before = procs.cpu_seconds()
    windows = [await _step(relay, float(sizes.pairs), sizes.window_s, w + 1) for w in range(sizes.relay_windows)]
    cpu = {name: round(used - cpu_before[name], 3) for name, used in procs.cpu_seconds().items()
           if name != webhook_server}
    received = sum(w["received"] for w in windows)
    no_sms: dict[str, Any] = {"lat_ms": [], "n_bad": 0, "n_errors": 0, "bad": [], "errors": []}
    sms_result = no_sms if sms is None else await sms
    # Every figure-2 message must arrive, once, in its own conversation: wait for the late ones.
    deadline = time.monotonic() + LATE_S
    while (d := delivery(await relay.tally(reset=False))).lost > d.misrouted and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
    figure2 = delivery(await relay.tally(reset=True, from_step=FIGURE3_FIRST_STEP))
    steps = []
    throughput: float | None = None
    for k, per_pair in enumerate(sizes.per_pair_rates):
        s = await _step(relay, sizes.pairs * per_pair, sizes.step_s, FIGURE3_FIRST_STEP + k)
        steps.append(s)
        _log(f"  step {s['rate']:.0f}/s: delivered {s['delivered_per_s']:.0f}/s, p99 {s['p99_ms']} ms "
             f"errors {s['errors']}")
        ok = s["p99_ms"] is not None and s["p99_ms"] <= P99_BOUND_MS and s["received"] >= 0.98 * s["sent"]
        if not ok:
            break
        throughput = max(throughput or 0.0, s["delivered_per_s"])
    # Past saturation a relay may shed load (that is figure 3's 98 % bound); it must never
    # deliver to the wrong conversation, or twice.
    await asyncio.sleep(DRAIN_S)
    steps_delivery = delivery(await relay.tally(reset=True))
    # Not received within the window and the drain: refused (``unavailable``, which a client
    # retries), lost, or just late. Reported, not a failure: a slow machine makes messages late.
    late_or_lost = sum(w["sent"] - w["received"] for w in windows)
    return {"p50_ms": median([w["p50_ms"] for w in windows]), "p99_ms": median([w["p99_ms"] for w in windows]),
            "windows": windows, "late_or_lost": late_or_lost, "delivery": figure2.as_json(),
            "delivery_steps": {**steps_delivery.as_json(), "lost": 0},
            "refused": sum(w["errors"].get("unavailable", 0) for w in windows),
            "throughput": throughput, "steps": steps,
            "cpu_s": cpu, "cpu_us_per_message": sum(cpu.values()) * 1e6 / received if received else None,
            "sms_p99_ms": percentile(sms_result["lat_ms"], 99), "sms_p50_ms": percentile(sms_result["lat_ms"], 50),
            "sms_count": len(sms_result["lat_ms"]), "sms_failed": sms_result["n_bad"] + sms_result["n_errors"],
            "sms_failures": sms_result["bad"] + sms_result["errors"]}


async def phase_b2(workdir: Path, pinning: Pinning, sizes: Sizes) -> dict[str, Any]:
    async with phase("b2", workdir, pinning) as procs:
        redis_url = await start_redis(procs)
        ports = [free_port(), free_port()]
        for i, port in enumerate(ports):
            await procs.python(f"b2-{i + 1}", "bench.baselines", "b2", str(port), redis_url, server=True)
        b3_port = free_port()
        await procs.python("b3", "bench.baselines", "b3", str(b3_port), server=True)
        for port in [*ports, b3_port]:
            await wait_port(port, procs)
        relay = await _open_pairs(procs, "b2", ports, sizes)
        relay.sms, relay.sms_url, relay.sms_token = (await Loadgen.start(procs, "sms"),
                                                     f"http://127.0.0.1:{b3_port}/sms/inbound", "unused")
        result = await _measure_relay(relay, sizes, procs, webhook_server="b3")
        procs.check_alive()
        return result


async def _open_pairs(procs: Procs, wire: str, ports: list[int], sizes: Sizes) -> Relay:
    """A relay's pairs: each sender on the first server process, its receiver on the second."""
    seekers = [await Loadgen.start(procs, f"seekers{i}") for i in range(2)]
    peers = [await Loadgen.start(procs, f"peers{i}") for i in range(2)]
    convs = [f"c{i}" for i in range(sizes.pairs)]
    for gens, role, port in ((peers, "p", ports[1]), (seekers, "s", ports[0])):
        for g, part in zip(gens, (convs[0::2], convs[1::2]), strict=True):
            opened = await g.call(120, op="open", url=f"ws://127.0.0.1:{port}", convs=part, role=role, proto=wire,
                                  concurrency=64)
            if opened["failed"]:
                raise BenchError(f"{wire}: {opened['failed']} sockets did not open: {opened['errors']}")
    for g in [*peers, *seekers]:
        hello = await g.call(120, op="hello", window=HELLO_WINDOW)
        if hello["failed"]:
            raise BenchError(f"{wire}: {hello['failed']} sockets got no answer to their hello")
    await asyncio.sleep(0.5)
    return Relay(seekers, peers)


async def phase_peer_relay(workdir: Path, pinning: Pinning, sizes: Sizes, peer: PeerApp) -> dict[str, Any]:
    async with phase(f"{peer.key}-relay", workdir, pinning) as procs:
        redis_url = await start_redis(procs)
        ports = [free_port(), free_port()]
        for i, port in enumerate(ports):
            await procs.python(f"{peer.key}-{i + 1}", peer.module, str(port), redis_url, server=True)
        for port in ports:
            await wait_port(port, procs)
        relay = await _open_pairs(procs, peer.wire, ports, sizes)
        result = await _measure_relay(relay, sizes, procs)
        procs.check_alive()
        return result


async def _pair(seekers: list[Loadgen], peers: list[Loadgen], sizes: Sizes, offer_timeout_s: float) -> dict[str, Any]:
    """Figure 4: every seeker's first message within the burst; time until its first offer."""
    sent: dict[str, int] = {}
    replies = await asyncio.gather(*(g.call(sizes.burst_s + 600, op="first", window_s=sizes.burst_s)
                                     for g in seekers))
    for reply in replies:
        sent.update(reply["sent"])
    deadline = time.monotonic() + offer_timeout_s
    offers: dict[str, list[int]] = {}
    assigned: dict[str, list[str]] = {}
    while True:
        offers, assigned = {}, {}
        for g in peers:
            report = await g.call(60, op="report")
            for conv, times in report["offers"].items():
                offers.setdefault(conv, []).extend(times)
            for conv, users in report["assigned"].items():
                assigned.setdefault(conv, []).extend(users)
        if len(assigned) >= len(sent) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    waits = [(min(offers[c]) - t) / 1e6 for c, t in sent.items() if c in offers]
    return {"ttp_p50_ms": percentile(waits, 50), "ttp_p99_ms": percentile(waits, 99),
            "ttp_max_ms": max(waits, default=None), "seekers": len(sent), "offered": len(waits),
            "assigned": len(assigned), "unacked": sum(r["unacked"] for r in replies),
            "first_retries": sum(r["retries"] for r in replies),
            "first_errors": _sum_counts(r["errors"] for r in replies),
            "double_assignments": sum(1 for u in assigned.values() if len(set(u)) > 1)}


async def phase_chatd_relay(workdir: Path, pinning: Pinning, sizes: Sizes) -> dict[str, Any]:
    async with phase("chatd-relay", workdir, pinning) as procs, DEPLOYMENT["now"].backing(procs) as backing:
        from config.settings import Settings
        from sms.bridge import credentials

        secret = secrets.token_hex(16)
        users = [f"peer{i:03d}" for i in range(sizes.peers)]
        await _create_accounts(backing.database, users)
        (web1, _), (web2, _) = await _start_chatd(procs, backing, secret, webs=2)
        seekers = [await Loadgen.start(procs, f"seekers{i}") for i in range(2)]
        peers = [await Loadgen.start(procs, f"peers{i}") for i in range(2)]
        sms = await Loadgen.start(procs, "sms")
        # Peers on web2, seekers on web1: every relayed message crosses processes.
        await asyncio.gather(*(g.call(300, op="peers", base=f"http://127.0.0.1:{web2}", users=part,
                                      password=PASSWORD, capacity=sizes.capacity)
                               for g, part in zip(peers, (users[0::2], users[1::2]), strict=True)))
        for g, n in zip(seekers, _split(sizes.pairs, len(seekers)), strict=True):
            await g.call(120, op="open", url=f"ws://127.0.0.1:{web1}/ws/seeker", n=n, concurrency=32)
            hello = await g.call(120, op="hello", frame=HELLO, window=HELLO_WINDOW)
            if hello["failed"]:
                raise BenchError(f"{hello['failed']} seekers got no welcome")
        _log("  pairing burst")
        pairing = await _pair(seekers, peers, sizes, offer_timeout_s=sizes.burst_s + 30)
        _log(f"  paired {pairing['assigned']}/{pairing['seekers']}, p99 {pairing['ttp_p99_ms']} ms, "
             f"first-message errors {pairing['first_errors']}")
        token = credentials(Settings(secret_key=secret, public_url=f"http://127.0.0.1:{web1}")).auth_token
        relay = Relay(seekers, peers, sms, f"http://127.0.0.1:{web1}/sms/inbound", token)
        result = await _measure_relay(relay, sizes, procs)
        procs.check_alive()
        return {**result, **pairing}


# --- the run, the figures, the file -----------------------------------------------------------
async def run_once(workdir: Path, pinning: Pinning, sizes: Sizes, peers: bool) -> dict[str, Any]:
    b1 = await phase_b1(workdir, pinning, sizes)
    _log(f"  B1: {b1['bytes_per_socket'] / 1024:.1f} KiB/socket, {b1['connect_rate']:.0f} connects/s")
    b1u = await phase_b1u(workdir, pinning, sizes)
    _log(f"  B1u: {b1u['bytes_per_socket'] / 1024:.1f} KiB/socket, {b1u['connect_rate']:.0f} connects/s")
    idle = await phase_chatd_idle(workdir, pinning, sizes)
    _log(f"  chatd: {idle['bytes_per_socket'] / 1024:.1f} KiB/socket, {idle['connect_rate']:.0f} connects/s")
    b2 = await phase_b2(workdir, pinning, sizes)
    _log(f"  B2: p50 {b2['p50_ms']} p99 {b2['p99_ms']} ms, {b2['throughput']}/s; B3 p99 {b2['sms_p99_ms']} ms")
    relay = await phase_chatd_relay(workdir, pinning, sizes)
    _log(f"  chatd: p50 {relay['p50_ms']} p99 {relay['p99_ms']} ms, {relay['throughput']}/s; "
         f"webhook p99 {relay['sms_p99_ms']} ms")
    out = {"b1": b1, "b1u": b1u, "chatd_idle": idle, "b2": b2, "chatd_relay": relay}
    for peer in PEER_APPS if peers else ():
        p_idle = out[f"{peer.key}_idle"] = await phase_peer_idle(workdir, pinning, sizes, peer)
        _log(f"  {peer.label} {peer.name}: {p_idle['bytes_per_socket'] / 1024:.1f} KiB/socket, "
             f"{p_idle['connect_rate']:.0f} connects/s")
        p_relay = out[f"{peer.key}_relay"] = await phase_peer_relay(workdir, pinning, sizes, peer)
        _log(f"  {peer.label} {peer.name}: p50 {p_relay['p50_ms']} p99 {p_relay['p99_ms']} ms, "
             f"{p_relay['throughput']}/s")
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description="chatd against bare baselines and peers.")
    parser.add_argument("--quick", action="store_true", help="every figure at a small size, in under a minute")
    parser.add_argument("--runs", type=int, help="repetitions; figures are medians (default: 3 full, 1 quick)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin servers and load generators to cores")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"results file (default {RESULTS})")
    parser.add_argument("--keep-logs", action="store_true", help="keep the processes' logs (path printed)")
    parser.add_argument("--no-peers", action="store_true", help="leave out the peers (P1, P2)")
    parser.add_argument("--redis-unix", action="store_true",
                        help="every server (chatd, baselines, peers) reaches Redis on a Unix socket")
    parser.add_argument("--deployment", choices=DEPLOYMENTS, default="single",
                        help="chatd's Redis and database: single (SQLite, one Redis) or sentinel-postgresql "
                             "(PostgreSQL, Redis through Sentinels with a replica); baselines and peers unchanged")
    return parser.parse_args(argv)


async def _main(args: argparse.Namespace) -> int:
    sizes = QUICK if args.quick else FULL
    n_runs = args.runs or (1 if args.quick else 3)
    fd_limit = raise_fd_limit()
    if fd_limit < sizes.idle_sockets + 1024:
        raise BenchError(f"the open-files limit is {fd_limit}: {sizes.idle_sockets} sockets need more")
    pinning = Pinning.choose(not args.no_pin)
    REDIS_UNIX["on"] = args.redis_unix
    deployment = DEPLOYMENT["now"] = Deployment(args.deployment)
    missing = [m for p in PEER_APPS for m in p.missing()] if not args.no_peers else []
    if missing:
        raise BenchError(f"the peers need {', '.join(missing)}: pip install -e '.[bench]' (or run with --no-peers)")
    commit = git_commit()  # before the run: the code that the run measures
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="chatd-bench-"))
    runs = []
    try:
        deployment.start()
        _log(f"deployment {deployment.describe()}")
        for i in range(n_runs):
            _log(f"run {i + 1} of {n_runs}")
            runs.append(await run_once(workdir / f"run{i + 1}", pinning, sizes, peers=not args.no_peers))
    finally:
        deployment.close()
        if args.keep_logs:
            _log(f"logs kept in {workdir}")
        else:
            subprocess.run(["rm", "-rf", str(workdir)], check=False)
    figs = figures(runs)
    found = problems(runs, figs, sizes.idle_sockets)
    result = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": "python -m bench " + " ".join(sys.argv[1:]),
        "mode": "quick" if args.quick else "full",
        "duration_s": round(time.monotonic() - started, 1),
        "machine": machine(),
        "git": commit,
        "settings": {"sizes": asdict(sizes), "runs": n_runs, "pinning": asdict(pinning),
                     "p99_bound_ms": P99_BOUND_MS, "redis": "redis-server, no persistence (save '', appendonly no)"
                     + (", on a Unix socket" if args.redis_unix else ", on loopback TCP"),
                     "fd_limit": fd_limit, "deployment": args.deployment,
                     "deployment_detail": deployment.describe()},
        "figures": [f.as_json() for f in figs],
        "problems": found,
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(table(figs))
    print(f"\n{result['mode']} mode, {n_runs} run(s), {result['duration_s']} s; pinning servers={pinning.servers} "
          f"loadgens={pinning.loadgens}; results in {args.out}")
    print(f"deployment {deployment.describe()}")
    for i, r in enumerate(runs, 1):
        for part in [k for k in r if k.endswith("relay") or k == "b2"]:
            if r[part]["late_or_lost"]:
                print(f"note: run {i}: {part}: {r[part]['late_or_lost']} figure-2 messages not received in time "
                      f"({r[part]['refused']} refused as unavailable)", file=sys.stderr)
    for problem in found:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    return 1 if found else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return asyncio.run(_main(args))
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
