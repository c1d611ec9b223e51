"""``python -m bench scale``: the whole machine with two web processes and a worker.

Two phases, each with its own Redis and processes (docs/performance.md, "Scale"):

- **idle**: seekers connect and say hello, alternately to web1 and web2, in steps of
  ``--idle-step`` up to ``--idle-max``; a step whose sockets are not all opened and welcomed ends
  it. Figure: the most seekers held, and each process's RSS growth per socket.
- **active pairs**: at each level (250, 500, 1,000, 2,000, 3,000, 4,000 pairs by default) new
  seekers and peers (capacity 5) are added on both processes and paired, then every seeker sends
  one message a second for ``--window`` seconds; p50/p99 of seeker → peer latency. Figures: the
  most pairs whose p99 stayed ≤ 50 ms with ≥ 98 % delivered, and the p99 curve, drawn as an SVG.

Writes ``bench/results/scale.json`` and the plot (default ``docs/scale.svg``).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import math
import os
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.deploy import Backing
from bench.procs import BenchError, Loadgen, Pinning, raise_fd_limit, rss_bytes, start_redis
from bench.report import git_commit, machine
from bench.run import HELLO, HELLO_WINDOW, P99_BOUND_MS, PASSWORD, Relay, _split, _start_chatd, _step, phase

RESULTS = Path(__file__).resolve().parent / "results" / "scale.json"
SVG = Path(__file__).resolve().parent.parent / "docs" / "scale.svg"
LEVELS = (250, 500, 1000, 2000, 3000, 4000)
CAPACITY = 5  # conversations per peer (the most a shift may take)
IDLE_CHUNK = 2000  # idle sockets opened, then welcomed, at a time
GENS = 4  # load generators per phase (one core's worth: they share the other core)


def _log(message: str) -> None:
    print(f"[scale {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


async def _cheap_accounts(data_dir: Path, users: list[str]) -> None:
    """Peer accounts with a cheap argon2 hash: a login verifies with the hash's own parameters,
    and 800 logins at the service's cost would spend minutes of the servers' core on hashing,
    which is not what this figure measures."""
    from argon2 import PasswordHasher

    from peers import accounts
    from records import open_records

    data_dir.mkdir(parents=True, exist_ok=True)
    hashed = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
    store = await open_records(data_dir / "chatd.sqlite3")
    try:
        for user in users:
            accounts.validate(user, f"Peer {user}", "peer", PASSWORD)
            await store.add_supporter(user, f"Peer {user}", "peer", True, hashed, int(time.time() * 1000))
    finally:
        await store.close()


async def phase_idle(workdir: Path, pinning: Pinning, idle_max: int, idle_step: int) -> dict[str, Any]:
    """Idle seekers on both web processes, step by step, until a step fails or ``idle_max``."""
    async with phase("scale-idle", workdir, pinning) as procs:
        redis_url = await start_redis(procs)
        webs = await _start_chatd(procs, Backing.sqlite(procs, redis_url), secrets.token_hex(16), webs=2)
        gens = [await Loadgen.start(procs, f"idle{i}") for i in range(GENS)]
        rss0 = [rss_bytes(pid) for _, pid in webs]
        held, steps = 0, []
        while held < idle_max:
            n = min(idle_step, idle_max - held)
            t0 = time.monotonic()
            opened = answered = 0
            errors: list[Any] = []
            # In chunks, each said hello to at once: a step opened whole would leave its first
            # sockets past the server's hello deadline (60 s) while slow handshakes finish.
            for chunk in _split(n, math.ceil(n / IDLE_CHUNK)):
                opens = await asyncio.gather(*(
                    g.call(900, op="open", url=f"ws://127.0.0.1:{webs[i % 2][0]}/ws/seeker", n=m, concurrency=50)
                    for i, (g, m) in enumerate(zip(gens, _split(chunk, len(gens)), strict=True))))
                hellos = await asyncio.gather(*(g.call(900, op="hello", frame=HELLO, window=HELLO_WINDOW)
                                                for g in gens))
                opened += sum(o["opened"] for o in opens)
                answered += sum(h["answered"] for h in hellos)
                errors += [o["errors"] for o in opens if o["errors"]][:2]
            procs.check_alive()
            rss = [rss_bytes(pid) for _, pid in webs]
            steps.append({"added": n, "opened": opened, "welcomed": answered,
                          "seconds": round(time.monotonic() - t0, 1), "rss_mib": [r / 2**20 for r in rss],
                          "errors": errors[:2]})
            _log(f"  idle: +{n}: {opened} opened, {answered} welcomed, RSS {[round(r / 2**20) for r in rss]} MiB")
            if answered < n:
                held += answered
                break
            held += n
        rss1 = [rss_bytes(pid) for _, pid in webs]
        await asyncio.gather(*(g.call(600, op="close") for g in gens))
        per_socket = sum(rss1) - sum(rss0)
        return {"held": held, "target": idle_max, "steps": steps,
                "bytes_per_socket": per_socket / held if held else None,
                "rss_mib": [r / 2**20 for r in rss1], "load_avg": os.getloadavg()}


async def phase_pairs(workdir: Path, pinning: Pinning, levels: tuple[int, ...], window_s: float) -> dict[str, Any]:
    """Active pairs at one message a second per seeker, level by level, on both web processes."""
    async with phase("scale-pairs", workdir, pinning) as procs:
        redis_url = await start_redis(procs)
        users = [f"peer{i:04d}" for i in range(math.ceil(max(levels) / CAPACITY))]
        await _cheap_accounts(procs.workdir / "data", users)
        started = await _start_chatd(procs, Backing.sqlite(procs, redis_url), secrets.token_hex(16), webs=2)
        webs = [port for port, _ in started]
        seekers = [await Loadgen.start(procs, f"seekers{i}") for i in range(2)]
        peers = [await Loadgen.start(procs, f"peers{i}") for i in range(2)]
        relay = Relay(seekers, peers)
        n_peers = n_seekers = 0
        out: list[dict[str, Any]] = []
        for k, level in enumerate(levels):
            want_peers = math.ceil(level / CAPACITY)
            new_users = users[n_peers:want_peers]
            # Seekers and peers of each generator on their own process: half of the pairs cross
            # processes through Redis, half stay in one (pairing does not look at the process).
            await asyncio.gather(*(g.call(600, op="peers", base=f"http://127.0.0.1:{webs[i]}", users=part,
                                          password=PASSWORD, capacity=CAPACITY)
                                   for i, (g, part) in enumerate(zip(peers, (new_users[0::2], new_users[1::2]),
                                                                     strict=True))))
            n_peers = want_peers
            for i, (g, m) in enumerate(zip(seekers, _split(level - n_seekers, 2), strict=True)):
                opened = await g.call(600, op="open", url=f"ws://127.0.0.1:{webs[i]}/ws/seeker", n=m, concurrency=32)
                hello = await g.call(600, op="hello", frame=HELLO, window=HELLO_WINDOW)
                if opened["failed"] or hello["failed"]:
                    raise BenchError(f"{level} pairs: {opened['failed']} seekers not opened, "
                                     f"{hello['failed']} not welcomed: {opened['errors']}")
            burst_s = max(2.0, (level - n_seekers) / 200)
            n_seekers = level
            await asyncio.gather(*(g.call(burst_s + 600, op="first", window_s=burst_s) for g in seekers))
            deadline = time.monotonic() + burst_s + 60
            while True:
                reports = [await g.call(60, op="report") for g in peers]
                assigned = sum(len(r["assigned"]) for r in reports)
                if assigned >= level or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.5)
            await relay.tally(reset=True)
            s = await _step(relay, float(level), window_s, 1000 + k)
            procs.check_alive()
            ok = s["p99_ms"] is not None and s["p99_ms"] <= P99_BOUND_MS and s["received"] >= 0.98 * s["sent"]
            out.append({"pairs": level, "paired": assigned, "ok": ok, "load_avg": os.getloadavg(), **s})
            _log(f"  {level} pairs ({assigned} paired): p50 {s['p50_ms']} p99 {s['p99_ms']} ms, "
                 f"{s['received']}/{s['sent']} delivered")
        return {"levels": out,
                "max_pairs_p99_under_bound": max((x["pairs"] for x in out if x["ok"]), default=None)}


def svg(levels: list[dict[str, Any]], title: str) -> str:
    """A small log-log plot of relay p99 against active pairs, with the 50 ms bound."""
    w, h, left, right, top, bottom = 560, 320, 64, 20, 36, 48
    pts = [(x["pairs"], x["p99_ms"]) for x in levels if x["p99_ms"]]
    xs = [p for p, _ in pts] or [250, 4000]
    x0, x1 = math.log10(min(xs) / 1.3), math.log10(max(xs) * 1.3)
    ys = [v for _, v in pts] + [P99_BOUND_MS]
    y0 = math.floor(math.log10(min(ys)))
    y1 = math.ceil(math.log10(max(ys)))
    y1 = max(y1, y0 + 1)

    def px(v: float) -> float:
        return left + (math.log10(v) - x0) / (x1 - x0) * (w - left - right)

    def py(v: float) -> float:
        return h - bottom - (math.log10(v) - y0) / (y1 - y0) * (h - top - bottom)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
             'font-family="sans-serif" font-size="12">',
             f'<rect width="{w}" height="{h}" fill="white"/>',
             f'<text x="{w / 2}" y="20" text-anchor="middle" font-size="14">{title}</text>',
             f'<line x1="{left}" y1="{h - bottom}" x2="{w - right}" y2="{h - bottom}" stroke="black"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{h - bottom}" stroke="black"/>']
    for e in range(y0, y1 + 1):
        v = 10.0**e
        parts.append(f'<line x1="{left}" y1="{py(v):.1f}" x2="{w - right}" y2="{py(v):.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{left - 6}" y="{py(v) + 4:.1f}" text-anchor="end">{v:,.0f}</text>')
    for x in xs:
        parts.append(f'<text x="{px(x):.1f}" y="{h - bottom + 16}" text-anchor="middle">{x:,}</text>')
    parts.append(f'<line x1="{left}" y1="{py(P99_BOUND_MS):.1f}" x2="{w - right}" y2="{py(P99_BOUND_MS):.1f}" '
                 'stroke="#c00" stroke-dasharray="6 4"/>')
    parts.append(f'<text x="{w - right - 4}" y="{py(P99_BOUND_MS) - 5:.1f}" text-anchor="end" fill="#c00">'
                 f'p99 bound {P99_BOUND_MS:g} ms</text>')
    line = " ".join(f"{px(x):.1f},{py(v):.1f}" for x, v in pts)
    parts.append(f'<polyline points="{line}" fill="none" stroke="#036" stroke-width="2"/>')
    for x, v in pts:
        parts.append(f'<circle cx="{px(x):.1f}" cy="{py(v):.1f}" r="4" fill="#036"/>')
        label = f"{v:,.0f}" if v >= 100 else f"{v:.3g}"
        anchor = "end" if px(x) > w - right - 60 else "start"
        parts.append(f'<text x="{px(x) + (-6 if anchor == "end" else 6):.1f}" y="{py(v) - 6:.1f}" '
                     f'text-anchor="{anchor}">{label}</text>')
    parts.append(f'<text x="{(left + w - right) / 2}" y="{h - 10}" text-anchor="middle">'
                 'active pairs, each seeker sending 1 message/s (log scale)</text>')
    parts.append(f'<text x="16" y="{(top + h - bottom) / 2}" text-anchor="middle" '
                 f'transform="rotate(-90 16 {(top + h - bottom) / 2})">relay p99, ms (log scale)</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench scale", description="the whole machine, two web processes")
    parser.add_argument("--idle-max", type=int, default=40_000, help="idle seekers to reach at most (default 40,000)")
    parser.add_argument("--idle-step", type=int, default=10_000, help="idle seekers added per step")
    parser.add_argument("--levels", default=",".join(map(str, LEVELS)), help="active pairs per level, comma-separated")
    parser.add_argument("--window", type=float, default=10.0, help="seconds measured per level")
    parser.add_argument("--no-pin", action="store_true", help="do not pin servers and load generators to cores")
    parser.add_argument("--skip-idle", action="store_true", help="only the active pairs")
    parser.add_argument("--skip-pairs", action="store_true", help="only the idle seekers")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--svg", type=Path, default=SVG)
    return parser.parse_args(argv)


async def _main(args: argparse.Namespace) -> int:
    fd_limit = raise_fd_limit()
    if fd_limit < args.idle_max // GENS + 1024:
        raise BenchError(f"the open-files limit is {fd_limit}: too low for {args.idle_max} sockets")
    pinning = Pinning.choose(not args.no_pin)
    levels = tuple(int(x) for x in args.levels.split(","))
    commit, started = git_commit(), time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="chatd-scale-"))
    load0 = os.getloadavg()
    idle = None if args.skip_idle else await phase_idle(workdir, pinning, args.idle_max, args.idle_step)
    pairs = None if args.skip_pairs else await phase_pairs(workdir, pinning, levels, args.window)
    result = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
              "command": "python -m bench scale " + " ".join(sys.argv[2:]),
              "duration_s": round(time.monotonic() - started, 1), "machine": machine(), "git": commit,
              "pinning": {"servers": pinning.servers, "loadgens": pinning.loadgens},
              "load_avg_at_start": load0, "load_avg_at_end": os.getloadavg(), "idle": idle, "pairs": pairs}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    if pairs is not None:
        title = f"chatd, 2 web processes ({dt.date.today().isoformat()}, load avg {os.getloadavg()[1]:.1f})"
        args.svg.write_text(svg(pairs["levels"], title))
    if idle is not None:
        print(f"idle seekers held: {idle['held']:,} of {idle['target']:,} "
              f"({(idle['bytes_per_socket'] or 0) / 1024:.1f} KiB each)")
    if pairs is not None:
        print(f"most active pairs with p99 <= {P99_BOUND_MS:g} ms: {pairs['max_pairs_p99_under_bound']}")
        for x in pairs["levels"]:
            print(f"  {x['pairs']:>5} pairs: p50 {x['p50_ms']} ms, p99 {x['p99_ms']} ms, {x['received']}/{x['sent']}")
        print(f"plot in {args.svg}")
    print(f"results in {args.out}")
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


def main(argv: list[str]) -> int:
    """Run the scale figure; 1 when something could not be measured."""
    try:
        return asyncio.run(_main(parse_args(argv)))
    except BenchError as exc:
        print(f"bench scale: {exc}", file=sys.stderr)
        return 1
