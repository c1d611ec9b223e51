"""From the runs' raw measurements to the figures, the problems that fail a run, and the
machine and commit the results file records."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from bench.delivery import Delivery
from bench.peer_apps import PEER_APPS, PeerApp
from bench.stats import Figure, median

ROOT = Path(__file__).resolve().parent.parent
# Figures on which chatd is compared with each peer too: (figure key, part, measurement,
# "lower" or "higher" is better). Figures 4 and 5 (pairing, SMS) are chatd's alone.
PEER_FIGURES = (
    ("1", "idle", "bytes_per_socket", "memory per idle socket", "KiB", "lower"),
    ("2a", "relay", "p50_ms", "relay latency p50", "ms", "lower"),
    ("2b", "relay", "p99_ms", "relay latency p99", "ms", "lower"),
    ("2c", "relay", "cpu_us_per_message", "server CPU per relayed message", "µs", "lower"),
    ("3", "relay", "throughput", "relayed messages/s with p99 ≤ 50 ms", "msg/s", "higher"),
    ("6", "idle", "connect_rate", "new connections/s", "conn/s", "higher"),
)
RELAY_PARTS = ("b2", "chatd_relay", *(f"{p.key}_relay" for p in PEER_APPS))


def figures(runs: list[dict[str, Any]]) -> list[Figure]:
    def pick(part: str, key: str, scale: float = 1.0) -> tuple[float | None, ...]:
        return tuple(None if r[part].get(key) is None else r[part][key] * scale for r in runs)

    def fig(key: str, name: str, unit: str, base_name: str, target: str,
            chatd: tuple[float | None, ...], base: tuple[float | None, ...]) -> Figure:
        return Figure(key, name, unit, base_name, target, median(list(chatd)), median(list(base)), chatd, base)

    def versus(peer: PeerApp, key: str) -> Figure:
        """chatd against a peer: the target is to be ahead (a ratio of at most, or at least, 1)."""
        [(_, part, measure, name, unit, better)] = [f for f in PEER_FIGURES if f[0] == key]
        scale = 1 / 1024 if unit == "KiB" else 1.0
        target = "info" if key == "2c" else "<= 1" if better == "lower" else ">= 1"
        return fig(f"{key}-{peer.label}", f"{name} vs {peer.name}", unit, peer.label, target,
                   pick(f"chatd_{part}", measure, scale), pick(f"{peer.key}_{part}", measure, scale))

    kib = 1 / 1024
    baselines = [
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
        fig("2c", "server CPU per relayed message, for reading (Redis included)", "µs", "B2", "info",
            pick("chatd_relay", "cpu_us_per_message"), pick("b2", "cpu_us_per_message")),
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
    peers = [p for p in PEER_APPS if runs and f"{p.key}_idle" in runs[0]]
    out = []
    for f in baselines:
        out.append(f)
        # Each figure's peer rows right below its baseline row (1 after 1b, 6 after 6u).
        last_of_figure = {"1b": "1", "2a": "2a", "2b": "2b", "2c": "2c", "3": "3", "6u": "6"}.get(f.key)
        if last_of_figure is not None:
            out += [versus(p, last_of_figure) for p in peers]
    return out


def problems(runs: list[dict[str, Any]], figs: list[Figure], idle_sockets: int) -> list[str]:
    """What makes the bench fail (exit 1): broken measurements or behaviour (a double assignment,
    an unpaired seeker, a failed webhook, a relayed message lost, duplicated or misrouted by
    chatd, a baseline or a peer), never slow timings."""
    # Figure 3 is None when even the first step missed the p99 bound: a timing, not a breakage
    # (on a busy machine a peer's quick ramp can miss at its first step).
    found = [f"figure {f.key} could not be measured" for f in figs
             if (f.chatd is None or f.baseline is None) and f.key.split("-")[0] != "3"]
    for i, r in enumerate(runs, 1):
        relay = r["chatd_relay"]
        if relay["double_assignments"]:
            found.append(f"run {i}: {relay['double_assignments']} conversations assigned to two peers")
        if relay["assigned"] < relay["seekers"]:
            found.append(f"run {i}: only {relay['assigned']} of {relay['seekers']} seekers were paired")
        for part in ("b2", "chatd_relay"):
            if r[part]["sms_failed"]:
                found.append(f"run {i}: {part}: {r[part]['sms_failed']} webhooks failed: {r[part]['sms_failures']}")
        for part in RELAY_PARTS:
            if part in r:
                found += Delivery(**r[part]["delivery"]).problems(f"run {i}: {part}: figure 2")
                found += Delivery(**r[part]["delivery_steps"]).problems(f"run {i}: {part}: figure 3")
        for part in ("chatd_idle", *(f"{p.key}_idle" for p in PEER_APPS)):
            if part in r and r[part]["held"] < idle_sockets:
                found.append(f"run {i}: {part}: held {r[part]['held']} of {idle_sockets} idle sockets")
    return found


def machine() -> dict[str, Any]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem_kib = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal"))
    return {"nproc": os.cpu_count(), "cpu_model": cpu, "mem_total_gib": round(mem_kib / 2**20, 1),
            "kernel": platform.release(), "python": platform.python_version(),
            "event_loop": "uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
            "http_parser": "httptools" if importlib.util.find_spec("httptools") else "h11",
            "versions": versions()}


def versions() -> dict[str, str | None]:
    """The servers' and peers' library versions (None: not installed)."""
    names = ("uvicorn", "websockets", "redis", "uvloop", "httptools", "starlette", "Django", "channels",
             "channels-redis", "python-socketio", "python-engineio")
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_commit() -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()

    return {"commit": git("rev-parse", "HEAD") or None, "dirty": bool(git("status", "--porcelain", "--", "chatd",
                                                                         "routing", "peers", "sms", "config"))}
