"""A corpus of malformed drills: each is invalid input (exit 2) with file:line and the
field, at once, with no traceback; none is a drill that validates but cannot mean what it
says."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from lab.cli.main import main

BASE = """\
name: x
endpoint:
  connections:
    - {site: a}
    - {site: b}
steps:
  - wait_for: {event: ConnectionStatusChanged, connection: 0, status: Available}
    within: 5s
  - id: f
    fault: {kind: kill, site: a}
  - expect: {event: ConnectionStatusChanged, connection: 0, status: Unavailable}
    within: 5s
  - heal: f
"""

# (id, a change to BASE as (old, new), what the message says)
CHANGES = [
    ("fault-kind", ("kind: kill", "kind: kil"), "steps[1].fault.kind: Input should be 'kill'"),
    ("status", ("status: Unavailable", "status: Availble"), "is never 'Availble'"),
    ("wait-key", ("connection: 0, status: Available", "conection: 0"), "has no field 'conection'"),
    ("fault-key", ("kind: kill, site: a}", "kind: latency, site: a, percnt: 3}"), "has no parameter 'percnt'"),
    ("heal-id", ("heal: f", "heal: g"), "heal what? 'g'"),
    ("bound-huge", ("within: 5s\n  - heal", "within: 1e400\n  - heal"), "not a finite number"),
    ("bound-div0", ("within: 5s\n  - heal", "within: 1/0\n  - heal"), "division by zero"),
    ("bound-nan", ("within: 5s\n  - heal", "within: .nan\n  - heal"), "not a finite number"),
    ("bound-words", ("within: 5s\n  - heal", "within: soon\n  - heal"), "unknown name(s) soon"),
    ("bound-negative", ("within: 5s\n  - heal", "within: -5s\n  - heal"), "is negative"),
    (
        "bound-long",
        ("within: 5s\n  - heal", "within: " + "1+" * 150 + "1\n  - heal"),
        "characters (at most 200)",
    ),
    ("bound-bool", ("within: 5s\n  - heal", "within: true\n  - heal"), "is not a duration"),
    ("sleep-negative", ("  - heal: f\n", "  - heal: f\n  - sleep: -5s\n"), "is negative"),
    ("duration-words", ("kind: kill, site: a}", "kind: kill, site: a, duration: soon}"), "fault.duration: unknown name"),
    ("timeout", ("name: x\n", "name: x\ntimeout: 40 days\n"), "timeout: not an expression"),
    ("timeout-long", ("name: x\n", "name: x\ntimeout: 1e9\n"), "timeout: '1e9' is over"),
    (
        "dial-connection",
        ("  - heal: f\n", "  - heal: f\n  - dial: {connection: 7, destination: '6001'}\n"),
        "no connection 7 here",
    ),
    (
        "disable-connection",
        ("  - heal: f\n", "  - heal: f\n  - disable_connection: 9\n"),
        "no connection 9 here",
    ),
    (
        "expect-connection",
        ("connection: 0, status: Unavailable", "connection: 4, status: Unavailable"),
        "the drill has no connection 4",
    ),
    (
        "absent-typo",
        ("    within: 5s\n  - heal", "    within: 5s\n    absnt: true\n  - heal"),
        "unknown field",
    ),
    (
        "never-typo",
        (
            "  - heal: f\n",
            "  - heal: f\ninvariants:\n  - never: {event: ConnectionStatusChanged, stauts: Unavailable}\n",
        ),
        "has no field 'stauts'",
    ),
    (
        "never-site",
        ("  - heal: f\n", "  - heal: f\ninvariants:\n  - never: {event: site_down, site: c}\n"),
        "unknown site 'c'",
    ),
    (
        "count-zero",
        ("    within: 5s\n  - heal", "    within: 5s\n    count: 0\n  - heal"),
        "greater than or equal to 1",
    ),
    ("site-path", ("- {site: b}", "- {site: '../x'}"), "unknown site"),
    (
        "site-name",
        ("name: x\n", "name: x\ntopology: {sites: [a, '../x']}\n"),
        "String should match pattern",
    ),
    ("site-repeat", ("name: x\n", "name: x\ntopology: {sites: [a, b, a]}\n"), "site names repeat"),
    ("sips-udp", ("- {site: a}", "- {site: a, sips: true}"), "sips: URIs are for TLS only"),
    ("cert-site", ("name: x\n", "name: x\ntopology: {certificates: {c: expired}}\n"),
     "unknown site 'c'"),
    ("cert-kind", ("name: x\n", "name: x\ntopology: {certificates: {a: stale}}\n"),
     "Input should be 'valid', 'wrong_ca', 'expired' or 'wrong_name'"),
    ("transport", ("name: x\n", "name: x\ntopology: {transport: sctp}\n"),
     "Input should be 'udp', 'tcp', 'tls', 'ws' or 'wss'"),
    ("reg-inf", ("- {site: a}", "- {site: a, reg_interval: .inf}"), "reg_interval"),
    ("reg-huge", ("- {site: a}", "- {site: a, reg_interval: 1e400}"), "reg_interval"),
    ("retry-zero", ("- {site: a}", "- {site: a, retry_interval: 0}"), "greater than 0"),
    (
        "user-crlf",
        ("- {site: a}", '- {site: a, user: "5001\\r\\nX-Evil: 1"}'),
        "user: String should match",
    ),
    (
        "dest-crlf",
        (
            "  - heal: f\n",
            '  - heal: f\n  - dial: {connection: 0, destination: "6001\\r\\nX: y"}\n',
        ),
        "destination: String should match",
    ),
    (
        "password-quote",
        ("name: x\n", 'name: x\ntopology: {password: "a\\"b"}\n'),
        "password: String should match",
    ),
    ("connection-ids", ("- {site: b}", "- {site: b, id: 0}"), "connection ids repeat"),
    ("two-actions", ("  - heal: f\n", "  - heal: f\n    sleep: 1s\n"), "does exactly one of"),
    ("no-action", ("  - heal: f\n", "  - heal: f\n  - note: nothing\n"), "this one does nothing"),
    (
        "window-on-sleep",
        ("  - heal: f\n", "  - heal: f\n  - sleep: 1s\n    within: 2s\n"),
        "'within' belongs to wait_for",
    ),
    (
        "after-unknown",
        ("    within: 5s\n  - heal", "    within: 5s\n    after: nope\n  - heal"),
        "no earlier step with id 'nope'",
    ),
    (
        "nemesis-empty",
        ("  - heal: f\n", "  - heal: f\n  - nemesis: {duration: 5s, faults: []}\n"),
        "at least 1 item",
    ),
    (
        "nemesis-kind",
        ("  - heal: f\n", "  - heal: f\n  - nemesis: {duration: 5s, faults: [kil]}\n"),
        "nemesis.faults[0]: Input should be",
    ),
    (
        "party-name",
        ("name: x\n", "name: x\nparties: [{name: '../p', kind: callee, site: a}]\n"),
        "parties[0].name: String should match",
    ),
    (
        "ring-huge",
        ("name: x\n", "name: x\nparties: [{name: p, kind: callee, site: a, ring_ms: 99999999}]\n"),
        "ring_ms: Input should be less",
    ),
    (
        "process-param",
        ("kind: kill, site: a}", "kind: kill, site: a, latency: 5}"),
        "'kill' has no parameter 'latency'",
    ),
    (
        "param-negative",
        ("kind: kill, site: a}", "kind: latency, site: a, latency: -5}"),
        "parameter 'latency': at least 0, not -5",
    ),
    (
        "param-words",
        ("kind: kill, site: a}", "kind: latency, site: a, latency: fast}"),
        "parameter 'latency': a number of ms, not 'fast'",
    ),
    (
        "param-percent",
        ("kind: kill, site: a}", "kind: loss, site: a, percent: 150}"),
        "parameter 'percent': at least 0 and at most 100, not 150",
    ),
    (
        "param-choice",
        ("kind: kill, site: a}", "kind: partition, site: a, direction: up}"),
        "parameter 'direction': one of to_site, from_site, not 'up'",
    ),
    (
        "param-status",
        ("kind: kill, site: a}", "kind: sip_respond, site: a, code: 1000}"),
        "parameter 'code': at least 100 and at most 699, not 1000",
    ),
    ("ref-rfc", ("name: x\n", "name: x\nreferences: [RFC3261 21.5.4]\n"),
     "drill.yaml:2: references[0]: 'RFC3261 21.5.4': an RFC clause is written 'RFC 3261 §21.5.4'"),
    ("ref-seed", ("name: x\n", "name: x\nreferences: ['seed: retries forever']\n"),
     "quotes no sentence of the SDK's description"),
    ("ref-none", ("name: x\n", "name: x\nreferences: [because]\n"),
     "a reference is 'RFC 3261 §21.5.4' or 'seed: <its words>'"),
    ("dup-key", ("name: x\n", "name: x\nname: y\n"), "drill.yaml:2: name: given twice (first on line 1)"),
    (
        "dup-key-flow",
        ("kind: kill, site: a}", "kind: kill, site: a, site: b}"),
        "drill.yaml:10: steps[1].fault.site: given twice (first on line 10)",
    ),
    (
        "bound-digits",
        ("within: 5s\n  - heal", "within: " + "9" * 5000 + "\n  - heal"),
        "drill.yaml:12: steps[2].within: not a valid value: a number too long to read",
    ),
]


def write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "drill.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def check_invalid(path: Path, expected: str, capsys: pytest.CaptureFixture[str]) -> list[str]:
    started = time.monotonic()
    code = main(["validate", str(path)])
    took = time.monotonic() - started
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and "internal error" not in err
    lines = err.strip().splitlines()
    assert lines and all(re.match(rf"{re.escape(str(path))}:\d+: ", line) for line in lines), err
    assert expected in err, err
    assert took < 5.0
    return lines


def test_the_base_drill_is_valid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(write(tmp_path, BASE))]) == 0


@pytest.mark.parametrize(
    ("change", "expected"), [c[1:] for c in CHANGES], ids=[c[0] for c in CHANGES]
)
def test_a_malformed_drill_is_invalid_input_at_its_line(
    tmp_path: Path, change: tuple[str, str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert change[0] in BASE
    check_invalid(write(tmp_path, BASE.replace(*change, 1)), expected, capsys)


def test_a_yaml_alias_bomb_is_refused_quickly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for i in range(1, 12):
        bomb += f"{chr(97 + i)}: &{chr(97 + i)} [" + ", ".join([f"*{chr(96 + i)}"] * 10) + "]\n"
    check_invalid(write(tmp_path, bomb), "too big: more than 100000 values", capsys)


def test_a_huge_file_is_refused_without_reading_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "drill.yaml"
    with path.open("wb") as f:
        f.truncate(50 * 1024 * 1024)  # 50 MB, sparse
    check_invalid(path, "too big: 52428800 bytes", capsys)


def test_deep_nesting_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    check_invalid(
        write(tmp_path, "name: " + "[" * 5000 + "]" * 5000 + "\n"), "nested deeper", capsys
    )


def test_non_utf8_names_the_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = check_invalid(
        write(tmp_path, b"name: x\nsteps:\n  - sleep: \xff\n"), "not UTF-8", capsys
    )
    assert lines[0].startswith(f"{tmp_path / 'drill.yaml'}:3: ")
