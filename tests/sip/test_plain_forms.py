"""The plain-form checks (a message is checked without building typed values) accept only
what the full parsers accept, and the shortcut to a contact's parameter reads what the
typed path reads."""

from __future__ import annotations

import string

from hypothesis import example, given, settings
from hypothesis import strategies as st

from endpoint.sip import ParseError
from endpoint.sip.plainvalues import _CALL_ID, _check_call_id_scanned
from endpoint.sip.values import (
    _PLAIN_NAME_ADDR,
    _PLAIN_VIA,
    _parse_name_addr_scanned,
    _parse_via_scanned,
    check_name_addr,
    checked_param_of,
    parse_name_addr,
)


def accepted(fn, *args) -> bool:  # type: ignore[no-untyped-def]
    try:
        fn(*args)
    except ParseError:
        return False
    return True


# pieces near the edges of the grammar: escapes, ports above 65535, leading zeros, odd
# characters in quoted strings, upper-case schemes, empty parts
piece = st.sampled_from(
    ["300001", "g1", "a.b", "x%41", "%4", "a;b", "a?b", "a:b", "a@b", "", " ", "é", "(x)", "&=+$,/"]
)
host = st.sampled_from(
    ["127.0.0.1", "a.test", ".a", "a-", "_x", "[::1]", "h", "a b", "a..b", "-a", "1.2.3.4."]
)
port = st.sampled_from(["", ":5060", ":0", ":00001", ":59999", ":60000", ":65535", ":65536", ":٣"])
uri_params = st.lists(
    st.sampled_from(
        [";transport=udp", ";lr", ";x=[::1]", ";a=", ";=b", ";a%20=b", ";a b", ";a=b:c"]
    ),
    max_size=3,
).map("".join)
params = st.lists(
    st.sampled_from(
        [
            ";tag=1928301774",
            ";expires=300",
            ';received="sip:127.0.0.1:5060"',
            ';x="a\\"b"',
            ';x="\x01"',
            ';x=""',
            ";q=0.5",
            ";=1",
            ";x=[::1]",
            ";a b",
            ";EXPIRES=7",
            ";expires",
        ]
    ),
    max_size=3,
).map("".join)


@st.composite
def name_addrs(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["sip", "sips", "SIP", "tel", ""]))
    user = draw(piece)
    at = f"{user}@" if user or draw(st.booleans()) else ""
    uri = f"{scheme}:{at}{draw(host)}{draw(port)}{draw(uri_params)}"
    return f"<{uri}>{draw(params)}"


@settings(max_examples=1500)
@given(name_addrs())
@example('<sip:300001@127.0.0.1:34089;transport=udp>;expires=4322;received="sip:127.0.0.1:1"')
def test_a_plain_name_addr_is_one_the_parser_accepts(value: str) -> None:
    if _PLAIN_NAME_ADDR.fullmatch(value) is not None:
        assert accepted(_parse_name_addr_scanned, value, "Contact")
        assert accepted(parse_name_addr, value, "Contact")
    assert accepted(check_name_addr, value, "To") == accepted(_parse_name_addr_scanned, value, "To")


via_text = st.builds(
    lambda proto, h, p, ps: f"SIP/2.0/{proto} {h}{p}{ps}",
    st.sampled_from(["UDP", "TCP", "udp", "X-1", "U DP", ""]),
    host,
    port,
    st.lists(
        st.sampled_from(
            [
                ";branch=z9hG4bK776",
                ";rport",
                ";rport=5060",
                ";received=127.0.0.1",
                ";x=[::1]",
                ";=1",
                ";a b",
                ';x="q"',
                ";maddr=a:b",
            ]
        ),
        max_size=3,
    ).map("".join),
)


@settings(max_examples=1000)
@given(via_text)
def test_a_plain_via_is_one_the_parser_accepts(value: str) -> None:
    if _PLAIN_VIA.fullmatch(value) is not None:
        assert accepted(_parse_via_scanned, value)


@settings(max_examples=1000)
@given(st.text(string.ascii_letters + string.digits + "-.!%*_+`'~()<>:\\\"/[]?{}@ ;é", max_size=20))
def test_the_call_id_pattern_agrees_with_the_character_walk(value: str) -> None:
    assert (_CALL_ID.fullmatch(value) is not None) == accepted(_check_call_id_scanned, value)


@settings(max_examples=1500)
@given(
    name_addrs(),
    st.sampled_from(["sip:300001@127.0.0.1:5060", "sip:g1@a.test", "sip:a.test", "sip:x%41@h"]),
    st.sampled_from(["expires", "EXPIRES", "tag", "received", "x"]),
)
@example("<sip:g1@a.test:5060>;expires=300", "sip:g1@a.test", "expires")
@example('<sip:g1@a.test;transport=udp>;Expires=300;x="a;expires=1"', "sip:g1@a.test", "expires")
@example('<sip:g1@a.test>;x="a;expires=1";expires=2', "sip:g1@a.test", "expires")
@example("<sip:g1@a.test> ; EXPIRES = 300", "sip:g1@a.test", "expires")
def test_the_contact_parameter_shortcut_reads_what_the_typed_path_reads(
    value: str, uri: str, name: str
) -> None:
    if not accepted(check_name_addr, value, "Contact"):
        return  # the shortcut is for values the parser let through
    plain = checked_param_of(value, uri, name)
    if plain is None:
        return
    typed = parse_name_addr(value, "Contact")
    assert str(typed.uri).split(";")[0] == uri
    assert plain == (typed.param(name),)


def test_the_contact_parameter_shortcut_reads_a_registrars_echo_itself() -> None:
    echo = '<sip:500000@127.0.0.1:59665;transport=udp>;expires=4322;received="sip:127.0.0.1"'
    ours = "sip:500000@127.0.0.1:59665"
    assert checked_param_of(echo, ours, "expires") == ("4322",)
    assert checked_param_of(echo, ours, "tag") is None  # past the quote: the typed path
    assert checked_param_of(echo, "sip:500000@127.0.0.1:5966", "expires") is None
    assert checked_param_of("<sip:500000@127.0.0.1:59665>", ours, "expires") == (None,)


@settings(max_examples=1000)
@given(st.lists(st.sampled_from([b"\r\n", b"\n", b"\r", b"a", b"B: c", b" "]), max_size=12))
def test_the_header_block_ends_where_the_general_pattern_says(parts: list[bytes]) -> None:
    from endpoint.sip.parser import _END_OF_HEADERS, split_head

    data = b"".join(parts)
    stripped = data.lstrip(b"\r\n")
    match = _END_OF_HEADERS.search(stripped)
    expected = None if match is None else (stripped[: match.start()], stripped[match.end() :])
    assert (split_head(data) if accepted(split_head, data) else None) == expected
