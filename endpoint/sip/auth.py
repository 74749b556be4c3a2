"""Digest authentication, client side (RFC 2617, RFC 7616, RFC 8760 for SHA-256)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from endpoint.sip.errors import LocalProtocolError, ParseError
from endpoint.sip.grammar import Scanner, quote, split_top_level, unquote
from endpoint.sip.message import Request, Response


def _sha512_256(data: bytes = b"") -> Any:
    return hashlib.new("sha512_256", data)


ALGORITHMS: dict[str, Callable[[bytes], Any]] = {
    "MD5": hashlib.md5,
    "MD5-SESS": hashlib.md5,
    "SHA-256": hashlib.sha256,
    "SHA-256-SESS": hashlib.sha256,
    "SHA-512-256": _sha512_256,
    "SHA-512-256-SESS": _sha512_256,
}
_PREFERENCE = ["SHA-512-256", "SHA-256", "MD5"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Challenge:
    realm: str
    nonce: str
    algorithm: str = "MD5"
    qop: tuple[str, ...] = ()
    opaque: str | None = None
    stale: bool = False
    proxy: bool = False  # 407 / Proxy-Authenticate


def parse_challenge(value: str, *, proxy: bool = False) -> Challenge:
    where = "Proxy-Authenticate" if proxy else "WWW-Authenticate"
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "digest":
        raise ParseError(f"unsupported scheme {scheme!r}", where)
    params: dict[str, str] = {}
    for part in split_top_level(rest):
        if not part.strip():
            continue
        s = Scanner(part.strip(), where)
        name = s.token("parameter name").lower()
        s.expect("=")
        raw = s.quoted_string() if s.peek() == '"' else s.rest().strip()
        params[name] = unquote(raw)
    if "realm" not in params or "nonce" not in params:
        raise ParseError("challenge lacks realm or nonce", where)
    return Challenge(
        realm=params["realm"],
        nonce=params["nonce"],
        algorithm=params.get("algorithm", "MD5").upper(),
        qop=tuple(q.strip() for q in params.get("qop", "").split(",") if q.strip()),
        opaque=params.get("opaque"),
        stale=params.get("stale", "").lower() == "true",
        proxy=proxy,
    )


def challenges_of(response: Response) -> list[Challenge]:
    """Every Digest challenge a 401/407 carries that we can answer, best first."""
    proxy = response.status == 407
    name = "Proxy-Authenticate" if proxy else "WWW-Authenticate"
    found = []
    for value in response.headers.get_all(name):
        try:
            challenge = parse_challenge(value, proxy=proxy)
        except ParseError:
            continue
        if challenge.algorithm in ALGORITHMS:
            found.append(challenge)

    def rank(c: Challenge) -> int:
        base = c.algorithm.removesuffix("-SESS")
        return _PREFERENCE.index(base) if base in _PREFERENCE else len(_PREFERENCE)

    return sorted(found, key=rank)


def _h(algorithm: str, text: str) -> str:
    return str(ALGORITHMS[algorithm](text.encode("utf-8")).hexdigest())


def digest_response(
    challenge: Challenge,
    *,
    method: str,
    uri: str,
    username: str,
    password: str,
    cnonce: str,
    nc: int,
    body: bytes = b"",
) -> tuple[str, str | None]:
    """The ``response`` value and the qop used (None for RFC 2069 style)."""
    alg = challenge.algorithm
    ha1 = _h(alg, f"{username}:{challenge.realm}:{password}")
    if alg.endswith("-SESS"):
        ha1 = _h(alg, f"{ha1}:{challenge.nonce}:{cnonce}")
    qop = None
    if "auth" in challenge.qop:
        qop = "auth"
    elif "auth-int" in challenge.qop:
        qop = "auth-int"
    if qop == "auth-int":
        body_hash = ALGORITHMS[alg](body).hexdigest()
        ha2 = _h(alg, f"{method}:{uri}:{body_hash}")
    else:
        ha2 = _h(alg, f"{method}:{uri}")
    if qop is None:
        return _h(alg, f"{ha1}:{challenge.nonce}:{ha2}"), None
    return _h(alg, f"{ha1}:{challenge.nonce}:{nc:08x}:{cnonce}:{qop}:{ha2}"), qop


class DigestClient:
    """Remembers nonces so the nonce count grows (RFC 7616 3.4)."""

    def __init__(self, username: str, password: str) -> None:
        self.username = username
        self.password = password
        self._nc: dict[str, int] = {}

    def authorization(self, challenge: Challenge, request: Request, cnonce: str) -> str:
        nc = self._nc.get(challenge.nonce, 0) + 1
        self._nc[challenge.nonce] = nc
        uri = str(request.uri)
        response, qop = digest_response(
            challenge,
            method=request.method,
            uri=uri,
            username=self.username,
            password=self.password,
            cnonce=cnonce,
            nc=nc,
            body=request.body,
        )
        parts = [
            f"username={quote(self.username)}",
            f"realm={quote(challenge.realm)}",
            f"nonce={quote(challenge.nonce)}",
            f"uri={quote(uri)}",
            f"response={quote(response)}",
            f"algorithm={challenge.algorithm}",
        ]
        if qop is not None:
            parts += [f"cnonce={quote(cnonce)}", f"qop={qop}", f"nc={nc:08x}"]
        if challenge.opaque is not None:
            parts.append(f"opaque={quote(challenge.opaque)}")
        return "Digest " + ", ".join(parts)

    def retry(self, request: Request, response: Response, *, branch: str, cnonce: str) -> Request:
        """The request again, answering the challenge: same Call-ID, CSeq + 1, new branch."""
        challenges = challenges_of(response)
        if not challenges:
            raise LocalProtocolError(f"no Digest challenge we can answer in {response!r}")
        challenge = challenges[0]
        headers = request.headers.copy()
        via = request.via
        headers.replace_first("Via", str(via.with_param("branch", branch)))
        headers.set("CSeq", f"{request.cseq.seq + 1} {request.method}")
        header = "Proxy-Authorization" if challenge.proxy else "Authorization"
        headers.remove(header)
        new = Request(method=request.method, uri=request.uri, headers=headers, body=request.body)
        headers.add(header, self.authorization(challenge, new, cnonce))
        return new


# --- the server's side (used by the lab's embedded site) ------------------------------
def parse_credentials(value: str) -> dict[str, str]:
    """The parameters of an ``Authorization: Digest …`` value, unquoted."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "digest":
        raise ParseError(f"unsupported scheme {scheme!r}", "Authorization")
    params: dict[str, str] = {}
    for part in split_top_level(rest):
        if not part.strip():
            continue
        s = Scanner(part.strip(), "Authorization")
        name = s.token("parameter name").lower()
        s.expect("=")
        raw = s.quoted_string() if s.peek() == '"' else s.rest().strip()
        params[name] = unquote(raw)
    return params


def check_credentials(params: dict[str, str], *, method: str, realm: str, password: str) -> bool:
    """Does the client's response prove it knows ``password``?"""
    algorithm = params.get("algorithm", "MD5").upper()
    if algorithm not in ALGORITHMS or params.get("realm") != realm:
        return False
    qop = params.get("qop")
    challenge = Challenge(
        realm=realm, nonce=params.get("nonce", ""), algorithm=algorithm, qop=(qop,) if qop else ()
    )
    nc = int(params.get("nc", "0") or "0", 16)
    expected, _ = digest_response(
        challenge,
        method=method,
        uri=params.get("uri", ""),
        username=params.get("username", ""),
        password=password,
        cnonce=params.get("cnonce", ""),
        nc=nc,
    )
    return hmac.compare_digest(expected, params.get("response", ""))
