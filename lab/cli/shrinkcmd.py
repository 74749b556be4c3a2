"""``geolab shrink FILE --seed N``: a failing drill's nemesis reduced to a minimal fault
schedule that still fails in virtual time, written as a plain drill (lab.fidelity.shrink)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from lab.cli.common import EXIT_INVALID, EXIT_PASS
from lab.errors import ScenarioError


def cmd_shrink(args: argparse.Namespace) -> int:
    from lab.fidelity.shrink import shrink

    path = Path(args.file)
    try:
        done = shrink(path, args.seed)
    except (ScenarioError, ValueError, OSError) as exc:
        print(f"geolab: invalid input: {exc}", file=sys.stderr)
        return EXIT_INVALID
    out = Path(args.out) if args.out else Path(f"{path.stem}-shrunk-seed{args.seed}.yaml")
    out.write_text(done.text)
    failed = done.result.failures[0] if done.result.failures else None
    why = (f"line {failed.line}: expected {failed.expected}; observed {failed.observed}"
           if failed else "; ".join(done.result.errors))  # fmt: skip
    print(f"{path}: {done.faults_before} faults -> {done.faults_after} that still fail "
          f"({done.runs} simulated runs); written to {out}\n  it fails: {why}")  # fmt: skip
    return EXIT_PASS


def add_command(sub: Any) -> None:
    shrink = sub.add_parser(
        "shrink",
        help="reduce a failing drill's nemesis to a minimal fault schedule (virtual time)",
        epilog="example: geolab shrink scenarios/flapping-site.yaml --seed 3",
    )
    shrink.add_argument("file")
    shrink.add_argument("--seed", type=int, default=0, help="the run's seed (as geolab run's)")
    shrink.add_argument("--out", help="where to write the drill (default: FILE-shrunk-seedN.yaml)")
    shrink.set_defaults(func=cmd_shrink)
