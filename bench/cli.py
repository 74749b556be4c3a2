"""``geolab bench WHAT``: the benchmarks, as a command of ``geolab`` (entry point
``geolab.commands``: the lab does not import its benchmarks)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from endpoint.compiled import describe
from lab.cli.common import EXIT_INVALID, cluster_address, positive


def cmd_bench(args: argparse.Namespace) -> int:
    print(f"core: {describe()}")  # figures of the compiled core and of the sources differ
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

        return bench_sim(endpoints=args.endpoints or 10_000, workers=args.workers,
                         cluster=args.cluster)  # fmt: skip
    if args.what == "fleet":
        from bench.fleet import main as bench_fleet

        return bench_fleet(endpoints=args.endpoints or 5000, workers=args.workers,
                           rounds=args.rounds)  # fmt: skip
    if args.what == "drivers":
        from bench.drivers import main as bench_drivers

        return bench_drivers(trials=max(args.trials, 200))
    if args.what == "fuzz":
        from bench.fuzz import main as bench_fuzz

        return bench_fuzz(datagrams=args.datagrams, seed=args.seed)
    if args.what == "mutants":
        from bench.mutants import main as bench_mutants

        backend = "embedded" if args.backend == "auto" else args.backend
        return bench_mutants(backend=backend,
                             mutants=args.mutants.split(",") if args.mutants else None)  # fmt: skip
    if args.what == "signals":
        from bench.signals import main as bench_signals

        backend = "embedded" if args.backend == "auto" else args.backend
        return bench_signals(runs=args.runs, backend=backend, seed=args.seed)
    if args.what == "dns":
        from bench.dns import main as bench_dns

        backend = "embedded" if args.backend == "auto" else args.backend
        return bench_dns(trials=min(args.trials, 5) if args.trials == 20 else args.trials,
                         backend=backend)  # fmt: skip
    if args.what == "fidelity":
        from bench.fidelity import main as bench_fidelity

        return bench_fidelity(seeds=args.seeds, backend=args.backend)
    print(f"unknown benchmark {args.what!r}", file=sys.stderr)
    return EXIT_INVALID



def add_command(sub: Any) -> None:
    bench = sub.add_parser(
        "bench", help="run a benchmark and print its figures", epilog="example: geolab bench sip"
    )
    bench.add_argument(
        "what",
        choices=["sip", "endpoint", "lab", "sim", "fleet", "fuzz", "drivers", "fidelity",
                 "signals", "mutants", "dns"],
    )
    bench.add_argument("--seeds", type=positive, default=200, help="fidelity: drills")
    bench.add_argument("--backend", default="auto", choices=["auto", "kamailio", "embedded"],
                       help="fidelity, signals, mutants, dns: the real sites")  # fmt: skip
    bench.add_argument("--runs", type=positive, default=100, help="signals: runs signalled")
    bench.add_argument("--mutants", help="mutants: which, comma-separated (default: all)")
    bench.add_argument(
        "--endpoints", type=positive, default=None, help="sim, fleet: fleet size (10,000 / 5,000)"
    )
    bench.add_argument("--workers", type=positive, default=2, help="sim, fleet: worker processes")
    bench.add_argument("--cluster", type=cluster_address, default=None, metavar="tcp://HOST:PORT",
                       help="sim: the storm's shards on this Dask scheduler's workers")  # fmt: skip
    bench.add_argument("--registrations", type=positive, default=5000, help="sip: how many")
    bench.add_argument("--rounds", type=positive, default=5, help="fleet: rounds of every side")
    bench.add_argument(
        "--trials", type=positive, default=20, help="endpoint, lab: trials per figure"
    )
    bench.add_argument(
        "--datagrams", type=positive, default=100_000, help="fuzz: how many datagrams"
    )
    bench.add_argument("--seed", type=int, default=1,
                       help="fuzz: the seed of the datagrams; signals: of the moments")  # fmt: skip
    bench.set_defaults(func=cmd_bench)
