"""Property tests of the parser: nothing but ParseError escapes, and round trips hold."""

from __future__ import annotations

import string
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from endpoint.sip import Headers, ParseError, Request, Response, SipURI, parse_message
from endpoint.sip.framing import StreamFramer
from endpoint.sip.uri import parse_uri

CORPUS = [p.read_bytes() for p in sorted(Path(__file__).parent.glob("rfc4475/*/*.sip"))]


def parse_or_reject(data: bytes) -> None:
    try:
        parse_message(data)
    except ParseError:
        pass


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600))
@example(b"\r\n\r\n")
@example(b"SIP/2.0 200 OK\r\n\r\n")
@example(b"INVITE sip: SIP/2.0\r\nVia: x\r\n\r\n")
def test_random_bytes_only_raise_parse_error(data: bytes) -> None:
    parse_or_reject(data)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(CORPUS)))
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["flip", "delete", "insert", "truncate"]))
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[i] = draw(st.sampled_from(list(b':;,<>"\\ \r\n@%=/\x00\xff0123456789')))
        elif op == "delete":
            del data[i : i + draw(st.integers(1, 20))]
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=10))
        else:
            del data[i:]
    return bytes(data)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_messages_only_raise_parse_error(data: bytes) -> None:
    parse_or_reject(data)
    try:
        StreamFramer().feed(data)
    except ParseError:
        pass


@settings(max_examples=500)
@given(st.text(max_size=80))
def test_uri_parser_only_raises_parse_error(text: str) -> None:
    try:
        parse_uri(text)
    except ParseError:
        pass


# --- generated messages ---------------------------------------------------------------
token = st.text(string.ascii_letters + string.digits + "-.!%*_+`'~", min_size=1, max_size=12)
host = st.from_regex(r"[a-z][a-z0-9\-]{0,8}(\.[a-z][a-z0-9]{0,5}){0,2}", fullmatch=True)
user = st.text(string.ascii_letters + string.digits + "-_.!~*'()&=+$,;?/", min_size=1, max_size=12)
port = st.none() | st.integers(1, 65535)
uri_param = st.text(
    string.ascii_letters + string.digits + "-_.!~*'()[]/:&+$", min_size=1, max_size=10
)
value_text = st.text(string.ascii_letters + string.digits + " -_.!/", max_size=30).map(str.strip)


@st.composite
def sip_uris(draw: st.DrawFn) -> SipURI:
    params = draw(st.lists(st.tuples(uri_param, st.none() | uri_param), max_size=3))
    return SipURI(
        scheme=draw(st.sampled_from(["sip", "sips"])),
        user=draw(st.none() | user),
        host=draw(host),
        port=draw(port),
        params=tuple(params),
    )


@st.composite
def messages(draw: st.DrawFn) -> Request | Response:
    headers = Headers()
    for _ in range(draw(st.integers(1, 3))):
        h = draw(host)
        headers.add(
            "Via",
            f"SIP/2.0/{draw(st.sampled_from(['UDP', 'TCP']))} {h};branch=z9hG4bK{draw(token)}",
        )
    headers.add("From", f"<{draw(sip_uris())}>;tag={draw(token)}")
    headers.add("To", f"<{draw(sip_uris())}>")
    headers.add("Call-ID", draw(token))
    method = draw(st.sampled_from(["INVITE", "REGISTER", "OPTIONS", "BYE", "X-CUSTOM"]))
    headers.add("CSeq", f"{draw(st.integers(0, 2**31 - 1))} {method}")
    for _ in range(draw(st.integers(0, 3))):
        headers.add(f"X-{draw(token)}", draw(value_text))
    body = draw(st.binary(max_size=50))
    if draw(st.booleans()):
        return Request(method=method, uri=draw(sip_uris()), headers=headers, body=body)
    status = draw(st.integers(100, 699))
    return Response(status=status, reason=draw(value_text), headers=headers, body=body)


@settings(max_examples=400)
@given(messages())
def test_generated_messages_round_trip(message: Request | Response) -> None:
    assert parse_message(bytes(message)) == message
    assert parse_message(bytes(message), stream=True) == message
    (framed,) = StreamFramer().feed(bytes(message))
    assert framed == bytes(message)


@settings(max_examples=300)
@given(sip_uris())
def test_uri_round_trip(uri: SipURI) -> None:
    assert parse_uri(str(uri)) == uri


via_text = st.builds(
    lambda transport, host, port, params: f"SIP/2.0/{transport} {host}{port}{params}",
    st.sampled_from(["UDP", "TCP", "tls", "SCTP", "X-1"]),
    st.from_regex(
        r"[a-z0-9][a-z0-9.\-_]{0,12}|\[::1\]|[0-9]{1,3}(\.[0-9]{1,3}){3}", fullmatch=True
    ),
    st.sampled_from(["", ":5060", ":1", ":65535", ":65536", ":0"]),
    st.lists(
        st.tuples(
            token,
            st.none()
            | st.text(string.ascii_letters + string.digits + ".:-[]", min_size=1, max_size=8),
        ),
        max_size=4,
    ).map(lambda ps: "".join(f";{k}" if v is None else f";{k}={v}" for k, v in ps)),
)


@settings(max_examples=400)
@given(via_text)
def test_via_fast_path_agrees_with_the_scanner(value: str) -> None:
    from endpoint.sip.values import _parse_via_scanned, parse_via

    def outcome(fn):  # type: ignore[no-untyped-def]
        try:
            return fn(value)
        except ParseError as exc:
            return ("error", exc.where)

    assert outcome(parse_via) == outcome(_parse_via_scanned)


@settings(max_examples=300)
@given(via_text, st.sampled_from(["192.0.2.7", "10.0.0.1", "::1"]), st.integers(1, 65535))
def test_received_stamp_shortcut_agrees_with_the_general_path(
    value: str, ip: str, port: int
) -> None:
    """A Via ending in ``;rport`` is stamped by string; the result parses to exactly what
    the general path (``with_param`` twice) gives."""
    from endpoint.sip.layer import stamp_received
    from endpoint.sip.values import parse_via

    try:
        via = parse_via(value + ";rport")
    except ParseError:
        return
    request = Request(method="OPTIONS", uri=SipURI(host="example.com"))
    request.headers.add("Via", value + ";rport")
    stamp_received(request, (ip, port))
    general = via.with_param("received", ip).with_param("rport", str(port))
    assert parse_via(request.headers.get("Via") or "") == general


@settings(max_examples=400)
@given(via_text, st.text(string.ascii_letters + string.digits + ".-!", min_size=1, max_size=10))
def test_branch_shortcut_agrees_with_the_via_parser(value: str, branch: str) -> None:
    from endpoint.sip.layer import top_branch
    from endpoint.sip.values import parse_via

    for text in (value, f"{value};branch=z9hG4bK{branch}", f"{value};BRANCH={branch};x"):
        try:
            expected = parse_via(text).branch
        except ParseError:
            continue
        request = Request(method="OPTIONS", uri=SipURI(host="example.com"))
        request.headers.add("Via", text)
        assert top_branch(request) == expected


name_addr_text = st.builds(
    lambda display, uri, params: f"{display}<{uri}>{params}",
    st.sampled_from(["", '"Agent 1" ', "Bob ", " "]),
    st.sampled_from(
        [
            "sip:1001@a.test",
            "sip:g1@127.0.0.1:5070;transport=udp",
            "sips:x@[::1]",
            "tel:+1",
            "sip:a b",
        ]
    ),
    st.lists(
        st.tuples(
            st.sampled_from(["tag", "expires", "received", "q", "x-y", ""]),
            st.none() | st.sampled_from(["abc", "300", '"sip:127.0.0.1:5060"', "0.5", "a;b", ""]),
        ),
        max_size=3,
    ).map(lambda ps: "".join(f";{k}" if v is None else f";{k}={v}" for k, v in ps)),
)


@settings(max_examples=500)
@given(name_addr_text, st.sampled_from(["From", "To", "Contact"]))
def test_name_addr_fast_path_agrees_with_the_scanner(value: str, where: str) -> None:
    from endpoint.sip.values import _parse_name_addr_scanned, parse_name_addr

    def outcome(fn):  # type: ignore[no-untyped-def]
        try:
            return fn(value, where)
        except ParseError:
            return "error"

    assert outcome(parse_name_addr) == outcome(_parse_name_addr_scanned)


param_text = st.lists(
    st.tuples(
        st.sampled_from([";", "; ", ";"]),
        st.sampled_from(["expires", "received", "q", "x-y", "", "a b"]),
        st.none()
        | st.sampled_from(
            ["300", '"sip:127.0.0.1:5060"', '"a;b"', '"a\\"b"', '""', "0.5", "[::1]", "", '"x']
        ),
    ),
    max_size=4,
).map(lambda ps: "".join(f"{s}{k}" if v is None else f"{s}{k}={v}" for s, k, v in ps))


@settings(max_examples=500)
@given(param_text)
def test_parameter_fast_paths_agree_with_the_scanner(text: str) -> None:
    from endpoint.sip.grammar import Scanner
    from endpoint.sip.values import _parse_params_scanned, parse_params

    def outcome(fn):  # type: ignore[no-untyped-def]
        try:
            return fn(Scanner(text, "x"))
        except ParseError:
            return "error"

    assert outcome(parse_params) == outcome(_parse_params_scanned)
