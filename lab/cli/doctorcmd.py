"""``geolab doctor``: what this machine has for the lab, and what is missing costs."""

from __future__ import annotations

import argparse
from typing import Any

from lab.cli.common import EXIT_FAILED, EXIT_PASS


def cmd_doctor(args: argparse.Namespace) -> int:
    from lab.run.doctor import examine, library_can_run

    pieces = examine()
    width = max(len(p.name) for p in pieces)
    for p in pieces:
        mark = "ok " if p.found else "-- "
        print(f"{mark}{p.name:<{width}}  {p.detail}")
        if not p.found:
            print(f"   {'':<{width}}  without it: {p.without}")
            print(f"   {'':<{width}}  install: {p.install}")
    missing = sum(not p.found for p in pieces)
    if library_can_run(pieces):
        print(f"the drill library can run here ({missing} piece(s) missing)")
        return EXIT_PASS
    blocking = ", ".join(p.name for p in pieces if p.blocks_library and not p.found)
    print(f"the drill library cannot run here: {blocking} missing")
    return EXIT_FAILED


def add_command(sub: Any) -> None:
    doctor = sub.add_parser(
        "doctor",
        help="what this machine has for the lab, what each missing piece makes N/A, and "
        "how to install it (exit 0: the drill library can run here)",
    )
    doctor.set_defaults(func=cmd_doctor)
