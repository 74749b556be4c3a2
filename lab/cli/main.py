"""``geolab``: the command line. Exit codes: 0 pass, 1 drill failed, 2 invalid input,
3 lab error."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from importlib.metadata import entry_points

from lab import EARLY_SIGNALS, PROGRAM
from lab.cli.common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    EXIT_LAB_ERROR,
    EXIT_PASS,
    EXIT_TERMINATED,
    Terminated,
    checkpoint,
    forget_signals,
    hold,
    leftovers,
    request_stop,
    run_async,
    stop_requested,
    take_signals,
)
from lab.errors import LabError


def cmd_drill(args: argparse.Namespace) -> int:
    from lab.run.quickdrill import quick_drill

    results = run_async(quick_drill(user=args.user))
    print(f"{'site':<6}{'backend':<10}{'transport':<11}{'status':<8}rtt")
    for r in results:
        print(f"{r.site:<6}{r.backend:<10}{r.transport:<11}{r.status:<8}{r.rtt_ms:.2f} ms")
    ok = all(r.status == 200 for r in results) and len(results) == 4
    print("PASS: registered on both sites over UDP and TCP" if ok else "FAIL")
    return EXIT_PASS if ok else EXIT_FAILED


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="geolab",
        description="Geo-redundancy test lab for SIP endpoints.",
        epilog="Exit codes: 0 pass, 1 drill failed, 2 invalid input, 3 lab error.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    drill = sub.add_parser(
        "drill",
        help="start two Kamailio sites, register on both over UDP and TCP, print RTTs",
        epilog="example: geolab drill --user 5001",
    )
    drill.add_argument("--user", default="5001", help="the DN to register (default 5001)")
    drill.set_defaults(func=cmd_drill)
    for entry in entry_points(group="geolab.commands"):  # commands of other packages
        entry.load()(sub)
    from lab.cli import adaptercmd, doctorcmd, labcmd, runcmd, shrinkcmd

    runcmd.add_commands(sub)
    labcmd.add_commands(sub)
    shrinkcmd.add_command(sub)
    adaptercmd.add_command(sub)
    doctorcmd.add_command(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    forget_signals()
    take_signals(holding=True)  # from the first line: a signal is a stop request
    for early in EARLY_SIGNALS:  # (one that came while geolab was being imported: lab)
        request_stop(early, None)
    EARLY_SIGNALS.clear()
    try:
        code = _main(argv)
    finally:
        if not PROGRAM:  # as they were (main runs in-process, in a test); a program
            for sig, handler in previous.items():  # keeps taking them until it exits
                signal.signal(sig, handler)
    late = stop_requested()
    if late is not None and code in (EXIT_PASS, EXIT_FAILED):
        # asked to stop as it ended: the verdict does not stand (the exit code says so)
        return EXIT_TERMINATED if late == signal.SIGTERM else EXIT_INTERRUPTED
    if PROGRAM:  # from here to the exit, a signal ends it at once, with the signal's code
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, _exit_at_once)
    return code


def _exit_at_once(signum: int, frame: object) -> None:
    """A stop asked for after the verdict's last check: no verdict is said (130/143)."""
    sys.stderr.flush()
    os._exit(EXIT_TERMINATED if signum == signal.SIGTERM else EXIT_INTERRUPTED)


def _main(argv: list[str] | None) -> int:
    try:
        args = build_parser().parse_args(argv)
        checkpoint()
    except (KeyboardInterrupt, Terminated) as exc:  # while it was starting: nothing had begun
        print("geolab: interrupted; nothing had started", file=sys.stderr, flush=True)
        sys.stdout.flush()
        # nothing to clean up, and an interrupt half-way through an import can leave the
        # interpreter to die by the signal on its way out: leave with the documented code
        os._exit(EXIT_TERMINATED if isinstance(exc, Terminated) else EXIT_INTERRUPTED)
    if os.environ.get("NO_COLOR"):
        os.environ.setdefault("TERM", "dumb")
    # a run takes its signals as stop requests throughout (its verdict must never stand
    # after a cancel); the other commands are interrupted where the signal lands
    hold(bool(getattr(args, "holds_signals", False)))
    try:
        code = int(args.func(args))
        checkpoint()  # a request that came as it ended: no verdict stands
        return code
    except (LabError, OSError) as exc:
        print(f"geolab: lab error: {exc}", file=sys.stderr)
        return EXIT_LAB_ERROR
    except ValueError as exc:
        print(f"geolab: invalid input: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except (KeyboardInterrupt, Terminated) as exc:
        code = EXIT_TERMINATED if isinstance(exc, Terminated) else EXIT_INTERRUPTED
        what = "terminated" if isinstance(exc, Terminated) else "interrupted"
        left = leftovers()
        if left:
            print(f"geolab: {what}; left behind: {', '.join(left)} (geolab cleanup removes "
                  "it)", file=sys.stderr)  # fmt: skip
        else:
            print(f"geolab: {what}; everything started was stopped", file=sys.stderr)
        return code
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
