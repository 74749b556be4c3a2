"""``pjsua2``: PJSIP, the SIP stack inside many native softphones and SDKs, through PyPI's
``pjsua2-python`` wheel, run as its own process (``python -m lab.drivers.pjsua2_adapter``,
which speaks the JSON-lines protocol; PJSIP is GPL and never enters geolab's process).

What PJSIP cannot be given (docs/drivers.md): a keep-alive (its accounts have none: drills
that ask for one are N/A), SIP over WebSocket (no such transport in PJSIP), its
transaction timers (fixed at 32 s: a drill's ``transaction_timeout`` is not carried, and
PJSIP is graded on what it does against the drill's bounds), a TLS server name per
connection. Everything else is translated as the adapter's notes say."""

from __future__ import annotations

import sys

from lab.drivers.capabilities import Capabilities
from lab.drivers.process import ProcessDriver
from lab.drivers.registry import driver

ADAPTER = (sys.executable, "-m", "lab.drivers.pjsua2_adapter")


@driver(
    "pjsua2",
    Capabilities(keepalives=frozenset(), backoffs=frozenset({"fixed"}), session_timers=False,
                 transports=frozenset({"udp", "tcp", "tls"}),
                 dns="the pjsua2 adapter does not set PJSIP's nameserver to the lab's DNS "
                     "server yet"),
    "PJSIP 2.15 (PyPI pjsua2-python) in an adapter process of its own",
)
class Pjsua2Driver(ProcessDriver):
    default_command = ADAPTER
