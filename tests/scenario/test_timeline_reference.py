"""The library in virtual time writes the same timeline as the reference kept here (made
with ``geolab run scenarios/ --mode sim --seed 3``), apart from the run's id and wall-clock
start. A change to the stream's JSON form shows up here first: renew the reference only
for a documented format change (see ``lab/report/timeline.py``). The format-1 reference
is the library's timeline before the typed stream: it must still render.

Renewed for: format 2 (the typed stream); callers given 5 s instead of 35 s to finish
once a drill's steps are done (the partition drill's caller, whose site is cut off, no
longer holds the run 30 s longer; verdicts unchanged); the library's two drills without
keep-alive (site-a-killed-renewal, site-a-killed-tcp) and the ``connection`` events
(each connection's site); ``sip`` events carrying the message (``text``, for the ladder),
the simulated sites' tags and ids drawn from the seed like every other choice; the
library's sip-rules drill (SIP-aware faults, now simulated) and the flapping drill's end
checked as states; parties registering again when their site returns (``registered``) and
the callee-back-with-its-site drill; the drills of the new network faults
(partition-one-way, noisy-path, corrupt-sip); the nemesis's fault times counted from its
start (the last digits of a float differ); the library's TLS drills (site-a-killed-tls,
tls-certificate-refused), the other drills' timelines unchanged; the simulated storm run
in shards of 250 endpoints, not 1,000 (each shard's network draws its jitter from its own
seed: the storm's recovery times moved by under a millisecond, the other drills'
timelines unchanged); the endpoint's word checked against the wire after every drill
(``lab.run.wirechecks``: its verdicts added, every other event unchanged); the rules
the library's drills and invariants grade (``references``, on their run_start and
expectation events; the library's step lines moved by them; nothing else changed); a killed site's TCP and TLS
connections closing in simulation as they do on real sites (the phone learns at once: the
TCP and TLS kill drills' timelines changed, their verdicts not) and three drills the
mutants showed missing (a lost connection noticed at once over TCP and TLS, renewals that
never flap), added; every other drill's timeline unchanged; the Retry-After drill, added;
the ws twins of the kill, lost-connection, hung-site and partition drills, added (every
other drill's timeline unchanged); a caller's To naming the callee's AOR (the site's
domain) rather than the site's address (only the To of the calls changed); the drills
that grade each keep-alive drill's behaviour without one, and the ws site silent past a
transaction's timeout, added (every other drill's timeline unchanged); the ws twins of
three of those, added, and the both-sites-down twin's first window counted from the first
kill (its later lines moved by one; nothing else changed); the 423 Interval Too Brief
drill, added; the silent site's retransmissions drill (T1 doubling to T2, Timer F),
added; the drills of RFC 4320 (a site's own 408), RFC 5626 (no pong over tcp, tls and ws;
flow recovery) and RFC 4028 (the session timer), added (every other drill's timeline
unchanged); each drill file's digest on its run_start (nothing else changed); the site
each ``sip`` event went to or came from (``site``), and the DNS drills (SRV's next target
over UDP, TCP, TLS and ws, a name flipped, a silent DNS server, a name that does not
resolve), added (every other event unchanged); the transport-state drills (a moved
address mid-call, a connection the site forgot, a NAT's new mapping), added, and a flow
whose pong never came closed (only the TLS pong drill's timeline changed: its retry makes
a new handshake; its verdict did not)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from lab.cli.main import main

ROOT = Path(__file__).parents[2]
REFERENCE = Path(__file__).parent / "data" / "sim-seed3-timeline.json.gz"


def _normalised(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    data["run"].pop("id")
    data["run"].pop("started")
    return data


def test_library_timeline_in_simulation_equals_the_reference(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)  # sources are recorded as given: scenarios/<file>
    code = main(["run", "scenarios/", "--mode", "sim", "--seed", "3", "-q",
                 "--report-dir", str(tmp_path)])  # fmt: skip
    assert code == 0
    (timeline,) = tmp_path.glob("*/timeline.json")
    got = _normalised(timeline)
    with gzip.open(REFERENCE, "rt") as f:
        want = json.load(f)
    assert [s["name"] for s in got["scenarios"]] == [s["name"] for s in want["scenarios"]]
    for mine, theirs in zip(got["scenarios"], want["scenarios"], strict=True):
        assert mine == theirs, mine["name"]
    assert got == want


def test_a_format_1_timeline_still_renders_with_the_same_verdicts(tmp_path: Path) -> None:
    """Timelines written before the typed stream (no ``format``) read back: each drill's
    expectations, invariants included, and verdicts as they were recorded."""
    with gzip.open(Path(__file__).parent / "data" / "format1-sim-seed3-timeline.json.gz") as f:
        old = json.load(f)
    assert "format" not in old
    old["run"]["id"] = "old"
    path = tmp_path / "timeline.json"
    path.write_text(json.dumps(old))
    assert main(["report", str(path), "--out", str(tmp_path / "out")]) == 0
    again = json.loads((tmp_path / "out" / "timeline.json").read_text())
    assert again["format"] == 2
    for before, after in zip(old["scenarios"], again["scenarios"], strict=True):
        assert after["expectations"] == before["expectations"], before["name"]
        assert (after["passed"], after["duration"]) == (before["passed"], before["duration"])
    assert "site A killed" in (tmp_path / "out" / "report.html").read_text()


def test_a_timeline_of_an_unknown_format_is_invalid_input(tmp_path: Path) -> None:
    path = tmp_path / "timeline.json"
    path.write_text(json.dumps({"format": 99, "run": {}, "scenarios": []}))
    assert main(["report", str(path)]) == 2
