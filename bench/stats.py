"""Percentiles and medians, and the figures table (targets as ratios against a baseline)."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


@dataclass(frozen=True, slots=True)
class Figure:
    """One figure: chatd's value, the baseline's, their ratio, and the target on the ratio."""

    key: str
    name: str
    unit: str
    baseline_name: str
    target: str  # "<= 1.3", ">= 0.8", "== 0", or "info" (no target: shown to read the others)
    chatd: float | None
    baseline: float | None
    runs_chatd: tuple[float | None, ...] = ()
    runs_baseline: tuple[float | None, ...] = ()

    @property
    def ratio(self) -> float | None:
        if self.chatd is None or self.baseline is None or self.baseline == 0:
            return None
        return self.chatd / self.baseline

    @property
    def met(self) -> bool | None:
        if self.target == "info":
            return None
        op, _, bound_s = self.target.partition(" ")
        bound = float(bound_s)
        if op == "==":
            return None if self.chatd is None else self.chatd == bound
        if self.ratio is None:
            return None
        return self.ratio <= bound if op == "<=" else self.ratio >= bound

    def as_json(self) -> dict[str, Any]:
        return {"key": self.key, "name": self.name, "chatd": _round(self.chatd), "baseline": _round(self.baseline),
                "baseline_name": self.baseline_name, "ratio": _round(self.ratio, 3), "unit": self.unit,
                "target": self.target if self.target.startswith(("==", "info")) else f"ratio {self.target}",
                "met": self.met, "runs_chatd": [_round(v) for v in self.runs_chatd],
                "runs_baseline": [_round(v) for v in self.runs_baseline]}


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def _fmt(value: float | None) -> str:
    if value is None:
        return "—"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"


def table(figures: list[Figure]) -> str:
    """A Markdown table of the figures (printed, and pasted into docs/performance.md)."""
    rows = [("figure", "chatd", "baseline", "ratio", "target", "met")]
    for f in figures:
        target = f.target if f.target.startswith(("==", "info")) else f"ratio {f.target}"
        met = {True: "yes", False: "**no**", None: "—"}[f.met]
        rows.append((f"{f.key}. {f.name} ({f.unit})", _fmt(f.chatd), f"{_fmt(f.baseline)} ({f.baseline_name})",
                     "—" if f.ratio is None else f"{f.ratio:.2f}", target, met))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)
