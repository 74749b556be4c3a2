"""RFC 4475 torture messages: valid ones parse and survive a round trip, invalid ones are
refused with a ParseError that names the faulty element."""

from __future__ import annotations

from pathlib import Path

import pytest

from endpoint.sip import ParseError, Request, Response, SipURI, parse_message

DATA = Path(__file__).with_name("rfc4475")
VALID = sorted(DATA.glob("valid/*.sip"))
INVALID = sorted(DATA.glob("invalid/*.sip"))

# What each invalid message gets wrong, as the ParseError's ``where``.
EXPECTED_FAULT = {
    "badaspec": "To",
    "baddate": "Date",
    "baddn": "From",
    "badinv01": "Via",
    "badvers": "request line",
    "bigcode": "status line",
    "clerr": "Content-Length",
    "escruri": "Request-URI",
    "insuf": "From",
    "ltgtruri": "Request-URI",
    "lwsruri": "request line",
    "lwsstart": "request line",
    "mcl01": "Content-Length",
    "mismatch01": "CSeq",
    "mismatch02": "CSeq",
    "multi01": "Call-ID",
    "ncl": "Content-Length",
    "quotbal": "To",
    "regbadct": "Contact",
    "scalar02": "CSeq",
    "scalarlg": "CSeq",
    "trws": "request line",
}


def test_the_whole_corpus_is_present() -> None:
    assert len(VALID) >= 25
    assert {p.stem for p in INVALID} == set(EXPECTED_FAULT)


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_valid_message_parses_and_round_trips(path: Path) -> None:
    message = parse_message(path.read_bytes())
    again = parse_message(bytes(message))
    assert again == message
    # typed views of the mandatory headers work on every valid message
    assert message.call_id
    assert message.cseq.seq >= 0
    assert message.vias
    assert message.from_.uri is not None
    assert message.to.uri is not None


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_message_raises_parse_error(path: Path) -> None:
    with pytest.raises(ParseError) as info:
        parse_message(path.read_bytes())
    assert info.value.where == EXPECTED_FAULT[path.stem]
    assert isinstance(info.value, ValueError)


def load(name: str) -> Request | Response:
    return parse_message((DATA / "valid" / f"{name}.sip").read_bytes())


def test_wsinv_details() -> None:
    m = load("wsinv")
    assert isinstance(m, Request)
    assert m.method == "INVITE"
    assert isinstance(m.uri, SipURI) and m.uri.has_param("unknownparam")
    assert m.to.tag == "1918181833n"
    assert m.from_.display == 'J Rosenberg \\"'
    assert m.from_.tag == "98asjd8"
    assert m.cseq.seq == 9 and m.cseq.method == "INVITE"
    assert [v.host for v in m.vias] == ["192.0.2.2", "spindle.example.com", "192.168.255.111"]
    assert [v.branch for v in m.vias] == ["390skdjuw", "z9hG4bK9ikj8", "z9hG4bK30239"]
    assert m.vias[1].transport == "TCP"
    assert m.headers.get("Subject") == ""
    assert m.headers.get("NewFangledHeader") == "newfangled value continued newfangled value"
    assert m.headers.get("UnknownHeaderWithUnusualValue") == ";;,,;;,;"
    (contact,) = m.contacts
    assert contact.display == 'Quoted string ""'
    assert contact.param("newparam") == "newvalue"
    assert contact.has_param("secondparam") and contact.param("secondparam") is None
    assert contact.param("q") == "0.33"
    assert len(m.body) == 150


def test_intmeth_keeps_unusual_characters() -> None:
    m = load("intmeth")
    assert isinstance(m, Request)
    assert m.method == "!interesting-Method0123456789_*+`.%indeed'~"
    assert isinstance(m.uri, SipURI)
    assert m.uri.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    assert m.uri.password == "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"
    assert m.to.display == "BEL:\x07 NUL:\x00 DEL:\x7f"
    assert m.from_.display == "token1~` token2'+_ token3*%!.-"
    assert m.from_.tag == "_token~1'+`*%!-."
    assert m.call_id == "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"


def test_compact_forms_and_escapes() -> None:
    esc02 = load("esc02")
    assert isinstance(esc02, Request)
    assert esc02.method == "RE%47IST%45R"  # % is no escape in a method
    assert [c.uri.user for c in esc02.contacts if isinstance(c.uri, SipURI)] == [
        "alias1",
        "alias3",
    ]
    assert esc02.headers.get("C%6Fntact") == "<sip:alias2@host2.example.com>"
    semi = load("semiuri")
    assert isinstance(semi, Request) and isinstance(semi.uri, SipURI)
    assert semi.uri.user == "user;par=u%40example.net"
    assert len(semi.headers.get_all("Accept")) == 6


def test_longreq_has_34_vias_in_order() -> None:
    vias = load("longreq").vias
    assert len(vias) == 34
    assert vias[0].host == "sip33.example.com"
    assert vias[-1].param("received") == "192.0.2.5"


def test_datagram_trailing_octets_are_ignored() -> None:
    m = load("dblreq")
    assert isinstance(m, Request) and m.method == "REGISTER"
    assert m.body == b""


def test_responses_without_or_with_odd_reasons() -> None:
    noreason = load("noreason")
    assert isinstance(noreason, Response) and noreason.status == 100 and noreason.reason == ""
    unreason = load("unreason")
    assert isinstance(unreason, Response) and unreason.reason.startswith("= 2**3 * 5**2 но")


def test_other_schemes_stay_opaque() -> None:
    m = load("unkscm")
    assert isinstance(m, Request)
    assert str(m.uri) == "nobodyKnowsThisScheme:totallyopaquecontent"
    assert str(load("unksm2").to.uri) == "isbn:2983792873"
