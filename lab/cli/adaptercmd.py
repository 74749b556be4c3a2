"""``geolab adapter check CMD…``: a JSON-lines adapter held to the endpoint protocol
(:mod:`lab.run.adaptercheck`); a checklist of what held and what did not, exit 0 when
everything held, 1 otherwise."""

from __future__ import annotations

import argparse
import shlex
import tempfile
from pathlib import Path
from typing import Any

from lab.cli.common import EXIT_FAILED, EXIT_INVALID, EXIT_PASS, run_async


def cmd_adapter_check(args: argparse.Namespace) -> int:
    from lab.run.adaptercheck import check

    command = list(args.cmd)
    if len(command) == 1 and " " in command[0]:  # given as one quoted string
        command = shlex.split(command[0])
    if not command:
        print("geolab: invalid input: adapter check needs the adapter's command")
        return EXIT_INVALID
    print(f"checking {shlex.join(command)} against the endpoint protocol "
          "(docs/endpoint-protocol.md) on an embedded lab")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="geolab-adapter-check-") as folder:
        items = run_async(check(command, Path(folder)))
    for item in items:
        mark = "held  " if item.held else "FAILED"
        print(f"  [{mark}] {item.what}" + ("" if item.held else f"\n           {item.seen}"))
    failed = [i for i in items if not i.held]
    if failed:
        print(f"{len(failed)} of {len(items)} checks did not hold: "
              "its grades cannot be trusted until they do")  # fmt: skip
        return EXIT_FAILED
    print(f"all {len(items)} checks held")
    return EXIT_PASS


def add_command(sub: Any) -> None:
    adapter = sub.add_parser("adapter", help="tools for a JSON-lines endpoint adapter")
    tools = adapter.add_subparsers(dest="tool", required=True)
    check = tools.add_parser(
        "check",
        help="hold an adapter to the endpoint protocol: every command, bad input, quit",
        epilog="example: geolab adapter check python -m endpoint "
        "(the command is started as CMD --config SipEndpoint.config)",
    )
    check.add_argument("cmd", nargs=argparse.REMAINDER, help="the adapter's command")
    check.set_defaults(func=cmd_adapter_check)
