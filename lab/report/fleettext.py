"""The registration storm as text: the console and the Markdown summary print it."""

from __future__ import annotations

from typing import Any


def fleet_lines(d: dict[str, Any]) -> list[str]:
    """The storm in a few lines: size, percentiles, peak load, histogram."""
    peaks = ", ".join(f"{s} {n}" for s, n in sorted(d["peak_register_per_s"].items()))
    lines = [
        f"{d['endpoints']} endpoints; site {d['outage_site']} back at {d['back_at']:.1f}s; "
        f"re-registered: p50 {d['p50']:.2f}s p90 {d['p90']:.2f}s p99 {d['p99']:.2f}s "
        f"max {d['max']:.2f}s; unrecovered {d['unrecovered']}",
        f"peak REGISTER/s per site: {peaks}",
    ]
    top = max((n for _, _, n in d["histogram"]), default=0) or 1
    lines += [f"{lo:8.2f}s {'#' * round(30 * n / top):<30} {n}" for lo, _, n in d["histogram"]]
    return lines
