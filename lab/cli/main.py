"""``geolab``: the command line. Exit codes: 0 pass, 1 drill failed, 2 invalid input,
3 lab error."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

from lab.errors import LabError

EXIT_PASS, EXIT_FAILED, EXIT_INVALID, EXIT_LAB_ERROR = 0, 1, 2, 3
T = TypeVar("T")


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro``; SIGTERM cancels it like Ctrl-C does, so its clean-up runs."""

    async def main() -> T:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        assert task is not None
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
        try:
            return await coro
        finally:
            loop.remove_signal_handler(signal.SIGTERM)

    return asyncio.run(main())


def cmd_drill(args: argparse.Namespace) -> int:
    from lab.run.quickdrill import quick_drill

    results = run_async(quick_drill(user=args.user))
    print(f"{'site':<6}{'backend':<10}{'transport':<11}{'status':<8}rtt")
    for r in results:
        print(f"{r.site:<6}{r.backend:<10}{r.transport:<11}{r.status:<8}{r.rtt_ms:.2f} ms")
    ok = all(r.status == 200 for r in results) and len(results) == 4
    print("PASS: registered on both sites over UDP and TCP" if ok else "FAIL")
    return EXIT_PASS if ok else EXIT_FAILED


def cmd_bench(args: argparse.Namespace) -> int:
    if args.what == "sip":
        from bench.sip import main as bench_sip

        return bench_sip(registrations=args.registrations)
    if args.what == "endpoint":
        from bench.endpoint import main as bench_endpoint

        return bench_endpoint(trials=args.trials)
    if args.what == "lab":
        from bench.lab import main as bench_lab

        return bench_lab(trials=args.trials)
    if args.what == "sim":
        from bench.sim import main as bench_sim

        return bench_sim(endpoints=args.endpoints or 10_000, workers=args.workers)
    if args.what == "fleet":
        from bench.fleet import main as bench_fleet

        return bench_fleet(endpoints=args.endpoints or 5000, workers=args.workers)
    print(f"unknown benchmark {args.what!r}", file=sys.stderr)
    return EXIT_INVALID


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="geolab",
        description="Geo-redundancy test lab for SIP endpoints.",
        epilog="Exit codes: 0 pass, 1 drill failed, 2 invalid input, 3 lab error.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    from lab.cli.runcmd import positive

    drill = sub.add_parser(
        "drill",
        help="start two Kamailio sites, register on both over UDP and TCP, print RTTs",
        epilog="example: geolab drill --user 5001",
    )
    drill.add_argument("--user", default="5001", help="the DN to register (default 5001)")
    drill.set_defaults(func=cmd_drill)
    bench = sub.add_parser(
        "bench", help="run a benchmark and print its figures", epilog="example: geolab bench sip"
    )
    bench.add_argument("what", choices=["sip", "endpoint", "lab", "sim", "fleet"])
    bench.add_argument(
        "--endpoints", type=positive, default=None, help="sim, fleet: fleet size (10,000 / 5,000)"
    )
    bench.add_argument("--workers", type=positive, default=2, help="sim, fleet: worker processes")
    bench.add_argument("--registrations", type=positive, default=5000, help="sip: how many")
    bench.add_argument(
        "--trials", type=positive, default=20, help="endpoint, lab: trials per figure"
    )
    bench.set_defaults(func=cmd_bench)
    from lab.cli import labcmd, runcmd

    runcmd.add_commands(sub)
    labcmd.add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if os.environ.get("NO_COLOR"):
        os.environ.setdefault("TERM", "dumb")
    try:
        return int(args.func(args))
    except (LabError, OSError) as exc:
        print(f"geolab: lab error: {exc}", file=sys.stderr)
        return EXIT_LAB_ERROR
    except ValueError as exc:
        print(f"geolab: invalid input: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        print("geolab: interrupted; everything started was stopped", file=sys.stderr)
        return 130
    except Exception as exc:  # a fault of geolab's own: say so in one line
        if os.environ.get("GEOLAB_DEBUG"):
            raise
        print(
            f"geolab: internal error: {type(exc).__name__}: {exc} (GEOLAB_DEBUG=1 shows where)",
            file=sys.stderr,
        )
        return EXIT_LAB_ERROR


if __name__ == "__main__":
    sys.exit(main())
