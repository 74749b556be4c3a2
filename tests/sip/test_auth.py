"""Digest authentication against the published test vectors and the retry rule."""

from __future__ import annotations

import pytest

from endpoint.sip import Response, make_response
from endpoint.sip.auth import (
    Challenge,
    DigestClient,
    challenges_of,
    digest_response,
    parse_challenge,
)
from endpoint.sip.errors import LocalProtocolError

from .helpers import request


def test_rfc2617_md5_vector() -> None:
    challenge = Challenge(
        realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", qop=("auth",)
    )
    value, qop = digest_response(
        challenge,
        method="GET",
        uri="/dir/index.html",
        username="Mufasa",
        password="Circle Of Life",
        cnonce="0a4f113b",
        nc=1,
    )
    assert (value, qop) == ("6629fae49393a05397450978507c4ef1", "auth")


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
    ],
)
def test_rfc7616_vectors(algorithm: str, expected: str) -> None:
    challenge = Challenge(
        realm="http-auth@example.org",
        nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
        qop=("auth", "auth-int"),
        algorithm=algorithm,
    )
    value, _ = digest_response(
        challenge,
        method="GET",
        uri="/dir/index.html",
        username="Mufasa",
        password="Circle of Life",
        cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
        nc=1,
    )
    assert value == expected


def challenge_response(*values: str, status: int = 401) -> Response:
    response = make_response(request(), status, to_tag="srv")
    name = "Proxy-Authenticate" if status == 407 else "WWW-Authenticate"
    for value in values:
        response.headers.add(name, value)
    return response


def test_parse_challenge_with_commas_in_quotes() -> None:
    c = parse_challenge(
        'Digest realm="a, b", nonce="n1", qop="auth,auth-int", opaque="o", stale=TRUE'
    )
    assert (c.realm, c.nonce, c.qop, c.opaque, c.stale) == (
        "a, b",
        "n1",
        ("auth", "auth-int"),
        "o",
        True,
    )


def test_strongest_algorithm_is_preferred() -> None:
    response = challenge_response(
        'Digest realm="r", nonce="n", algorithm=MD5',
        'Digest realm="r", nonce="n", algorithm=SHA-256',
    )
    assert [c.algorithm for c in challenges_of(response)] == ["SHA-256", "MD5"]


def test_retry_keeps_call_id_bumps_cseq_and_changes_branch() -> None:
    original = request()
    client = DigestClient("1001", "secret")
    retry = client.retry(
        original,
        challenge_response('Digest realm="site", nonce="abc", qop="auth"'),
        branch="z9hG4bKnew",
        cnonce="cn",
    )
    assert retry.call_id == original.call_id
    assert retry.cseq.seq == original.cseq.seq + 1
    assert retry.via.branch == "z9hG4bKnew"
    header = retry.headers.get("Authorization") or ""
    assert (
        'username="1001"' in header
        and "nc=00000001" in header
        and 'uri="sip:site.example"' in header
    )
    again = client.retry(
        retry,
        challenge_response('Digest realm="site", nonce="abc", qop="auth"'),
        branch="z9hG4bKnew2",
        cnonce="cn",
    )
    assert "nc=00000002" in (again.headers.get("Authorization") or "")
    assert len(again.headers.get_all("Authorization")) == 1


def test_proxy_challenge_answers_with_proxy_authorization() -> None:
    retry = DigestClient("u", "p").retry(
        request(),
        challenge_response('Digest realm="r", nonce="n"', status=407),
        branch="z9hG4bKx",
        cnonce="c",
    )
    assert (
        retry.headers.get(
            "Proxy-Authorization",
        )
        is not None
    )
    assert retry.headers.get("Authorization") is None


def test_no_usable_challenge_is_a_local_error() -> None:
    with pytest.raises(LocalProtocolError):
        DigestClient("u", "p").retry(
            request(), challenge_response("Basic realm=x"), branch="z9hG4bKx", cnonce="c"
        )
