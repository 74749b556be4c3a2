"""The lab's DNS: a drill's records at the lab's addresses, the answers the DNS faults
make of them, the server that gives them over UDP (a question that does not parse is
dropped, the server goes on), and a drill's dns: section checked as input (file:line,
exit 2)."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import dns.flags
import dns.message
import dns.query
import dns.rcode
import pytest

from endpoint.aio.resolve import ask
from endpoint.core.rfc3263 import NOERROR, NXDOMAIN, SERVFAIL, TIMEOUT, A, DnsQuery, Srv
from lab.cli.main import main
from lab.dns.server import DnsServer
from lab.dns.spec import DnsSpec
from lab.dns.zone import DnsFault, Zone
from lab.drill import load_scenario
from lab.errors import ScenarioError
from lab.labs.interface import LabConfig
from lab.real.lab import Lab

WHERE = {("a", "udp"): ("127.0.5.1", 5071), ("b", "udp"): ("127.0.5.2", 5072),
         ("a", "tcp"): ("127.0.5.1", 5081), ("b", "tcp"): ("127.0.5.2", 5082)}  # fmt: skip
SPEC = DnsSpec.model_validate({"ttl": 7, "names": {
    "sip.geolab.test": {"targets": [{"site": "a", "priority": 10}, {"site": "b", "priority": 20}]},
    "only-b.geolab.test": {"targets": [{"site": "b"}], "naptr": False, "ttl": 3},
}})  # fmt: skip


def zone() -> Zone:
    return Zone(SPEC, ("a", "b"), ("udp", "tcp"), lambda s, t: WHERE[(s, t)])


def test_srv_records_per_transport_lead_to_each_site_s_front() -> None:
    z = zone()
    udp = z.answer("_sip._udp.sip.geolab.test", "SRV")
    assert udp is not None and udp.rcode == NOERROR
    assert udp.records == (Srv(10, 1, 5071, "udp.a.sites.geolab.test.", 7),
                           Srv(20, 1, 5072, "udp.b.sites.geolab.test.", 7))  # fmt: skip
    tcp = z.answer("_sip._tcp.sip.geolab.test.", "SRV")
    assert tcp is not None and [r.port for r in tcp.records] == [5081, 5082]  # type: ignore[union-attr]
    naptr = z.answer("sip.geolab.test", "NAPTR")
    assert naptr is not None and [r.service for r in naptr.records] == ["SIP+D2U", "SIP+D2T"]  # type: ignore[union-attr]
    assert z.answer("only-b.geolab.test", "NAPTR").records == ()  # type: ignore[union-attr]
    assert z.answer("udp.a.sites.geolab.test", "A").records == (A("127.0.5.1", 7),)  # type: ignore[union-attr]
    assert z.answer("nowhere.geolab.test", "A").rcode == NXDOMAIN  # type: ignore[union-attr]


def test_faults_hurt_the_names_leading_to_their_site_only() -> None:
    z = zone()
    z.faults["b"] = DnsFault("servfail")
    assert z.answer("only-b.geolab.test", "A").rcode == SERVFAIL  # type: ignore[union-attr]
    assert z.answer("sip.geolab.test", "NAPTR").rcode == SERVFAIL  # type: ignore[union-attr]  # b among its targets
    assert z.answer("udp.a.sites.geolab.test", "A").rcode == NOERROR  # type: ignore[union-attr]
    z.faults["b"] = DnsFault("silent")
    assert z.answer("udp.b.sites.geolab.test", "A") is None
    z.faults["b"] = DnsFault("nxdomain")
    assert z.answer("udp.b.sites.geolab.test", "A").rcode == NXDOMAIN  # type: ignore[union-attr]


def test_a_change_leads_a_site_s_records_to_another_with_its_ttl() -> None:
    z = zone()
    z.faults["a"] = DnsFault("change", to="b", ttl=2)
    srv = z.answer("_sip._udp.sip.geolab.test", "SRV")
    assert srv is not None
    assert [(r.target, r.port, r.ttl) for r in srv.records] == [  # type: ignore[union-attr]
        ("udp.b.sites.geolab.test.", 5072, 2), ("udp.b.sites.geolab.test.", 5072, 2)]
    assert z.answer("udp.a.sites.geolab.test", "A").records == (A("127.0.5.2", 2),)  # type: ignore[union-attr]


def test_the_server_answers_over_udp_drops_garbage_and_changes_without_a_restart() -> None:
    async def go() -> None:
        z = zone()
        async with DnsServer(z, "127.0.0.1") as server:
            where = "{}:{}".format(*server.address)
            answer = await ask(DnsQuery(1, "_sip._udp.sip.geolab.test", "SRV"), where, 2.0,
                               "127.0.0.1")  # fmt: skip
            assert answer.rcode == NOERROR and len(answer.records) == 2
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:  # not DNS at all
                s.sendto(b"\x00\x01garbage", server.address)
            z.faults["a"] = DnsFault("nxdomain")
            gone = await ask(DnsQuery(2, "udp.a.sites.geolab.test", "A"), where, 2.0, "127.0.0.1")
            assert gone.rcode == NXDOMAIN  # the same server, the fault's answer
            z.faults["a"] = DnsFault("silent")
            quiet = await ask(DnsQuery(3, "udp.a.sites.geolab.test", "A"), where, 0.3, "127.0.0.1")
            assert quiet.rcode == TIMEOUT
            z.faults.clear()
            query = dns.message.make_query("sip.geolab.test", "NAPTR")  # a plain dnspython client
            reply = await asyncio.get_running_loop().run_in_executor(
                None, lambda: dns.query.udp(query, server.address[0], port=server.address[1],
                                            timeout=2))  # fmt: skip
            assert reply.rcode() == dns.rcode.NOERROR and reply.flags & dns.flags.AA

    asyncio.run(go())


def test_a_real_lab_serves_its_drill_s_names_and_its_server_ends_with_it() -> None:
    async def go() -> None:
        config = LabConfig(sites=["a", "b"], backend="embedded", dns=SPEC,
                           transports=frozenset({"udp"}))  # fmt: skip
        async with Lab(config) as lab:
            server = lab.dns_server()
            assert server is not None and server.startswith("127.")
            answer = await ask(DnsQuery(1, "_sip._udp.sip.geolab.test", "SRV"), server, 2.0,
                               "127.0.0.1")  # fmt: skip
            assert [(r.port) for r in answer.records] == [  # type: ignore[union-attr]
                lab.target("a", "udp")[1], lab.target("b", "udp")[1]]
            record = await lab.apply("dns_change", "a", to="b", ttl=1)
            moved = await ask(DnsQuery(2, "udp.a.sites.geolab.test", "A"), server, 2.0,
                              "127.0.0.1")  # fmt: skip
            assert moved.records == (A(lab.target("b")[0], 1),)
            await lab.heal(record)
            host, port = server.split(":")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((host, int(port)))  # free again: nothing of the server outlived the lab

    asyncio.run(go())


DRILL = """\
name: x
topology:
  sites: [a, b]
  dns:
    names:
      sip.geolab.test:
        targets: [{site: a}]
endpoint:
  connections: [{site: a, name: sip.geolab.test}]
steps:
  - fault: {kind: dns_change, site: a, to: b}
"""


@pytest.mark.parametrize(("old", "new", "line", "says"), [
    ("targets: [{site: a}]", "targets: [{site: c}]", 7, "unknown site 'c'"),
    ("targets: [{site: a}]", "targets: []", 7, "at least 1 item"),
    ("  dns:\n", "  dns:\n    ttl: 100000\n", 5, "less than or equal to 86400"),
    ("name: sip.geolab.test}", "name: other.geolab.test}", 9, "none of the dns: section"),
    ("to: b}", "to: z}", 11, "unknown site 'z'"),
    ("to: b}", "ttl: 5}", 11, "dns_change needs 'to'"),
    ("name: sip.geolab.test}", "name: sip..test}", 9, "should match pattern"),
])  # fmt: skip
def test_a_dns_section_that_cannot_mean_what_it_says_is_invalid_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, line: int, says: str
) -> None:
    path = tmp_path / "drill.yaml"
    assert old in DRILL
    path.write_text(DRILL.replace(old, new))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:{line}:" in err and says in err, err
    assert "Traceback" not in err


def test_a_dns_fault_on_a_drill_without_names_is_invalid(tmp_path: Path) -> None:
    path = tmp_path / "drill.yaml"
    path.write_text("name: x\nendpoint:\n  connections: [{site: a}]\nsteps:\n"
                    "  - fault: {kind: dns_silent, site: a}\n")  # fmt: skip
    with pytest.raises(ScenarioError, match=r":5: steps\[0\]\.fault\.kind: fault 'dns_silent' "
                       r"hurts the lab's DNS, and this drill has none"):  # fmt: skip
        load_scenario(path)
