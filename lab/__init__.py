"""geolab's lab: sites, faults, drivers, the runner and the simulation."""

import os
import signal
import sys

# `geolab` (or `python -m lab.cli.main`) takes SIGINT and SIGTERM as stop requests from
# here, its first line: noted until the command takes them over (lab.cli.main), never a
# death by signal or a KeyboardInterrupt half-way through an import. Imported by anything
# else (a test), the process's own handlers are left alone.
EARLY_SIGNALS: list[int] = []
PROGRAM = os.path.basename(sys.argv[0]) == "geolab" or sys.orig_argv[1:3] == ["-m", "lab.cli.main"]
if PROGRAM:
    for _sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(_sig, lambda signum, frame: EARLY_SIGNALS.append(signum))

import endpoint  # noqa: F401  # decides, before lab.sim loads, whether compiled modules may
