"""The bench's orchestration: phases, figures, the results file and the table.

One run has four phases, each with its own fresh Redis and processes (so one phase's
leftovers never load the next): B1 and chatd holding idle seekers (figures 1 and 6), then
B2 + B3 and chatd relaying between paired seekers and peers across two processes while
signed SMS webhooks arrive (figures 2, 3, 5; chatd's pairing burst gives figure 4).
Full mode repeats the run (``--runs``) and reports the median of each figure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import importlib.util
import json
import os
import platform
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

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
from bench.stats import Figure, median, percentile, table

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"
PASSWORD = "bench-password-0"
P99_BOUND_MS = 50.0
DRAIN_S = 1.5
HELLO = json.dumps({"type": "hello", "lang": "en"})
# Hellos awaiting their welcome per load generator: a bounded client window (see _hold_idle).
HELLO_WINDOW = 20


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
    procs = Procs(d, pinning)
    _log(f"phase {name}")
    try:
        yield procs
    finally:
        await procs.close()


def _chatd_env(redis_url: str, port: int, data_dir: Path, secret: str, public_port: int | None = None
               ) -> dict[str, str]:
    return clean_env(CHATD_REDIS_URL=redis_url, CHATD_PORT=str(port), CHATD_HOST="127.0.0.1",
                     CHATD_PUBLIC_URL=f"http://127.0.0.1:{public_port or port}", CHATD_DATA_DIR=str(data_dir),
                     CHATD_SECRET_KEY=secret, CHATD_KEY_PREFIX="bench", CHATD_LOG_LEVEL="warning",
                     CHATD_LOG_FORMAT="json", CHATD_DEMO_ACCOUNT="0")


async def _start_chatd(procs: Procs, redis_url: str, secret: str, webs: int) -> list[tuple[int, int]]:
    """A worker and ``webs`` web processes; returns (port, pid) of each web process."""
    data_dir = procs.workdir / "data"
    data_dir.mkdir(exist_ok=True)
    ports = [free_port() for _ in range(webs)]
    # The worker's public URL is web1's: the SMS simulator posts its status callbacks there.
    await procs.python("worker", "chatd", "worker", server=True,
                       env=_chatd_env(redis_url, free_port(), data_dir, secret, public_port=ports[0]))
    out = []
    for i, port in enumerate(ports):
        proc = await procs.python(f"web{i + 1}", "chatd", "web", server=True,
                                  env=_chatd_env(redis_url, port, data_dir, secret))
        out.append((port, proc.pid))
    for port, _ in out:
        await wait_http(f"http://127.0.0.1:{port}/healthz", procs)
    return out


async def _create_accounts(data_dir: Path, users: list[str]) -> None:
    """Trained peer accounts, hashed once (argon2 costs ~0.1 s a hash) and stored directly."""
    from peers import accounts
    from records import open_records

    data_dir.mkdir(parents=True, exist_ok=True)
    hashed = await asyncio.to_thread(accounts.HASHER.hash, PASSWORD)
    store = await open_records(data_dir / "chatd.sqlite3")
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
async def _hold_idle(procs: Procs, url: str, pid: int, sizes: Sizes) -> dict[str, float]:
    gens = [await Loadgen.start(procs, f"hold{i}") for i in range(sizes.hold_procs)]
    # Warm-up: the first sockets load code and fill caches, which is not a per-socket cost.
    await gens[0].call(60, op="open", url=url, n=100, concurrency=sizes.connect_concurrency)
    await gens[0].call(90, op="hello", frame=HELLO, window=HELLO_WINDOW)
    await gens[0].call(60, op="close")
    await asyncio.sleep(1.0)
    rss0 = rss_bytes(pid)
    opens = await asyncio.gather(*(g.call(600, op="open", url=url, n=m, concurrency=sizes.connect_concurrency)
                                   for g, m in zip(gens, _split(sizes.idle_sockets, len(gens)), strict=True)))
    opened = sum(o["opened"] for o in opens)
    if opened < sizes.idle_sockets:
        raise BenchError(f"only {opened} of {sizes.idle_sockets} sockets opened: {opens[0]['errors']}")
    span_s = (max(o["t1"] for o in opens) - min(o["t0"] for o in opens)) / 1e9
    hellos = await asyncio.gather(*(g.call(600, op="hello", frame=HELLO, window=HELLO_WINDOW) for g in gens))
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
    async with phase("chatd-idle", workdir, pinning) as procs:
        redis_url = await start_redis(procs)
        [(port, pid)] = await _start_chatd(procs, redis_url, secrets.token_hex(16), webs=1)
        return await _hold_idle(procs, f"ws://127.0.0.1:{port}/ws/seeker", pid, sizes)


# --- figures 2, 3, 5: relay (and 4: pairing) ---------------------------------------------------
@dataclass
class Relay:
    seekers: list[Loadgen]
    peers: list[Loadgen]
    sms: Loadgen
    sms_url: str
    sms_token: str


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


async def _measure_relay(relay: Relay, sizes: Sizes) -> dict[str, Any]:
    """Figure 2 (with figure 5's webhooks at the same time), then figure 3's rate steps."""
    duration_s = sizes.relay_windows * sizes.window_s
    sms = asyncio.create_task(relay.sms.call(duration_s + 120, op="sms", url=relay.sms_url, token=relay.sms_token,
                                             rate=sizes.sms_rate, duration_s=duration_s,
                                             numbers=sizes.sms_numbers))
    windows = [await _step(relay, float(sizes.pairs), sizes.window_s, w + 1) for w in range(sizes.relay_windows)]
    sms_result = await sms
    steps = []
    throughput: float | None = None
    for k, per_pair in enumerate(sizes.per_pair_rates):
        s = await _step(relay, sizes.pairs * per_pair, sizes.step_s, 100 + k)
        steps.append(s)
        _log(f"  step {s['rate']:.0f}/s: delivered {s['delivered_per_s']:.0f}/s, p99 {s['p99_ms']} ms "
             f"errors {s['errors']}")
        ok = s["p99_ms"] is not None and s["p99_ms"] <= P99_BOUND_MS and s["received"] >= 0.98 * s["sent"]
        if not ok:
            break
        throughput = max(throughput or 0.0, s["delivered_per_s"])
    # Not received within the window and the drain: refused (``unavailable``, which a client
    # retries), lost, or just late. Reported, not a failure: a slow machine makes messages late.
    late_or_lost = sum(w["sent"] - w["received"] for w in windows)
    return {"p50_ms": median([w["p50_ms"] for w in windows]), "p99_ms": median([w["p99_ms"] for w in windows]),
            "windows": windows, "late_or_lost": late_or_lost,
            "refused": sum(w["errors"].get("unavailable", 0) for w in windows),
            "throughput": throughput, "steps": steps,
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
        seekers = [await Loadgen.start(procs, f"seekers{i}") for i in range(2)]
        peers = [await Loadgen.start(procs, f"peers{i}") for i in range(2)]
        sms = await Loadgen.start(procs, "sms")
        ids = list(range(sizes.pairs))
        for g, part in zip(peers, (ids[0::2], ids[1::2]), strict=True):
            await g.call(120, op="b2open", url=f"ws://127.0.0.1:{ports[1]}", ids=part, role="p")
        for g, part in zip(seekers, (ids[0::2], ids[1::2]), strict=True):
            await g.call(120, op="b2open", url=f"ws://127.0.0.1:{ports[0]}", ids=part, role="s")
        await asyncio.sleep(0.5)
        relay = Relay(seekers, peers, sms, f"http://127.0.0.1:{b3_port}/sms/inbound", "unused")
        result = await _measure_relay(relay, sizes)
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
    async with phase("chatd-relay", workdir, pinning) as procs:
        from config.settings import Settings
        from sms.bridge import credentials

        redis_url = await start_redis(procs)
        secret = secrets.token_hex(16)
        users = [f"peer{i:03d}" for i in range(sizes.peers)]
        await _create_accounts(procs.workdir / "data", users)
        (web1, _), (web2, _) = await _start_chatd(procs, redis_url, secret, webs=2)
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
        result = await _measure_relay(relay, sizes)
        procs.check_alive()
        return {**result, **pairing}


# --- the run, the figures, the file -----------------------------------------------------------
async def run_once(workdir: Path, pinning: Pinning, sizes: Sizes) -> dict[str, Any]:
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
    return {"b1": b1, "b1u": b1u, "chatd_idle": idle, "b2": b2, "chatd_relay": relay}


def figures(runs: list[dict[str, Any]]) -> list[Figure]:
    def pick(part: str, key: str, scale: float = 1.0) -> tuple[float | None, ...]:
        return tuple(None if r[part].get(key) is None else r[part][key] * scale for r in runs)

    def fig(key: str, name: str, unit: str, base_name: str, target: str,
            chatd: tuple[float | None, ...], base: tuple[float | None, ...]) -> Figure:
        return Figure(key, name, unit, base_name, target, median(list(chatd)), median(list(base)), chatd, base)

    kib = 1 / 1024
    return [
        fig("1", "memory per idle seeker socket", "KiB", "B1", "<= 1.3",
            pick("chatd_idle", "bytes_per_socket", kib), pick("b1", "bytes_per_socket", kib)),
        fig("1u", "memory per idle socket, for reading: vs bare uvicorn", "KiB", "B1u", "info",
            pick("chatd_idle", "bytes_per_socket", kib), pick("b1u", "bytes_per_socket", kib)),
        fig("1b", "idle seekers held by one web process", "sockets", "B1", ">= 1.0",
            pick("chatd_idle", "held"), pick("b1", "held")),
        fig("2a", "relay latency p50, seeker → peer", "ms", "B2", "<= 1.5",
            pick("chatd_relay", "p50_ms"), pick("b2", "p50_ms")),
        fig("2b", "relay latency p99, seeker → peer", "ms", "B2", "<= 2",
            pick("chatd_relay", "p99_ms"), pick("b2", "p99_ms")),
        fig("3", "relayed messages/s with p99 ≤ 50 ms", "msg/s", "B2", ">= 0.7",
            pick("chatd_relay", "throughput"), pick("b2", "throughput")),
        fig("4", "time to pair p99 (vs B2 relay p99)", "ms", "B2 p99", "<= 3",
            pick("chatd_relay", "ttp_p99_ms"), pick("b2", "p99_ms")),
        fig("4b", "double assignments", "count", "none", "== 0",
            pick("chatd_relay", "double_assignments"), tuple(0.0 for _ in runs)),
        fig("5", "SMS webhook p99 under figure 2's load", "ms", "B3", "<= 2",
            pick("chatd_relay", "sms_p99_ms"), pick("b2", "sms_p99_ms")),
        fig("6", "new connections accepted/s", "conn/s", "B1", ">= 0.8",
            pick("chatd_idle", "connect_rate"), pick("b1", "connect_rate")),
        fig("6u", "new connections/s, for reading: vs bare uvicorn", "conn/s", "B1u", "info",
            pick("chatd_idle", "connect_rate"), pick("b1u", "connect_rate")),
    ]


def problems(runs: list[dict[str, Any]], figs: list[Figure], sizes: Sizes) -> list[str]:
    """What makes the bench fail (exit 1): broken measurements or behaviour (a double assignment,
    an unpaired seeker, a failed webhook), never slow timings."""
    found = [f"figure {f.key} could not be measured" for f in figs if f.chatd is None or f.baseline is None]
    for i, r in enumerate(runs, 1):
        relay = r["chatd_relay"]
        if relay["double_assignments"]:
            found.append(f"run {i}: {relay['double_assignments']} conversations assigned to two peers")
        if relay["assigned"] < relay["seekers"]:
            found.append(f"run {i}: only {relay['assigned']} of {relay['seekers']} seekers were paired")
        for part in ("b2", "chatd_relay"):
            if r[part]["sms_failed"]:
                found.append(f"run {i}: {part}: {r[part]['sms_failed']} webhooks failed: {r[part]['sms_failures']}")
        if r["chatd_idle"]["held"] < sizes.idle_sockets:
            found.append(f"run {i}: chatd held {r['chatd_idle']['held']} of {sizes.idle_sockets} idle seekers")
    return found


def machine() -> dict[str, Any]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem_kib = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal"))
    return {"nproc": os.cpu_count(), "cpu_model": cpu, "mem_total_gib": round(mem_kib / 2**20, 1),
            "kernel": platform.release(), "python": platform.python_version(),
            "event_loop": "uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
            "http_parser": "httptools" if importlib.util.find_spec("httptools") else "h11"}


def git_commit() -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()

    return {"commit": git("rev-parse", "HEAD") or None, "dirty": bool(git("status", "--porcelain", "--", "chatd",
                                                                         "routing", "peers", "sms", "config"))}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description="chatd against bare baselines.")
    parser.add_argument("--quick", action="store_true", help="every figure at a small size, in under a minute")
    parser.add_argument("--runs", type=int, help="repetitions; figures are medians (default: 3 full, 1 quick)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin servers and load generators to cores")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"results file (default {RESULTS})")
    parser.add_argument("--keep-logs", action="store_true", help="keep the processes' logs (path printed)")
    return parser.parse_args(argv)


async def _main(args: argparse.Namespace) -> int:
    sizes = QUICK if args.quick else FULL
    n_runs = args.runs or (1 if args.quick else 3)
    fd_limit = raise_fd_limit()
    if fd_limit < sizes.idle_sockets + 1024:
        raise BenchError(f"the open-files limit is {fd_limit}: {sizes.idle_sockets} sockets need more")
    pinning = Pinning.choose(not args.no_pin)
    commit = git_commit()  # before the run: the code that the run measures
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="chatd-bench-"))
    runs = []
    try:
        for i in range(n_runs):
            _log(f"run {i + 1} of {n_runs}")
            runs.append(await run_once(workdir / f"run{i + 1}", pinning, sizes))
    finally:
        if args.keep_logs:
            _log(f"logs kept in {workdir}")
        else:
            subprocess.run(["rm", "-rf", str(workdir)], check=False)
    figs = figures(runs)
    found = problems(runs, figs, sizes)
    result = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": "python -m bench " + " ".join(sys.argv[1:]),
        "mode": "quick" if args.quick else "full",
        "duration_s": round(time.monotonic() - started, 1),
        "machine": machine(),
        "git": commit,
        "settings": {"sizes": asdict(sizes), "runs": n_runs, "pinning": asdict(pinning),
                     "p99_bound_ms": P99_BOUND_MS, "redis": "redis-server, no persistence (save '', appendonly no)",
                     "fd_limit": fd_limit},
        "figures": [f.as_json() for f in figs],
        "problems": found,
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(table(figs))
    print(f"\n{result['mode']} mode, {n_runs} run(s), {result['duration_s']} s; pinning servers={pinning.servers} "
          f"loadgens={pinning.loadgens}; results in {args.out}")
    for i, r in enumerate(runs, 1):
        for part in ("b2", "chatd_relay"):
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
