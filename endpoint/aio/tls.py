"""TLS for SIP connections: the client's context (the site's certificate verified against
a configured CA, its name checked, SNI sent), a site's server context, and what a refused
handshake means in words a status event can carry."""

from __future__ import annotations

import functools
import ssl
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TlsPeer:
    """How to reach one peer over TLS: the CA bundle its certificate must chain to (None:
    the system's) and the name it must carry, which SNI asks for."""

    ca_file: str | None
    server_name: str


class TlsSettingsError(ValueError):
    """A CA bundle that cannot be read or holds no certificate."""


@functools.lru_cache(maxsize=64)
def client_context(ca_file: str | None) -> ssl.SSLContext:
    """A context that verifies the server's chain and name (TLS 1.2 at least)."""
    try:
        context = ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise TlsSettingsError(f"TLS: cannot read the CA bundle {ca_file}: {exc}") from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def server_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    """A site's context: its certificate chain and key; clients are not asked for one."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    return context


# OpenSSL's verification results (X509_V_ERR_*) that a drill tells apart
_UNTRUSTED = frozenset({2, 18, 19, 20, 21, 27})  # no trusted issuer, self-signed, untrusted
_EXPIRED = 10  # X509_V_ERR_CERT_HAS_EXPIRED
_NOT_YET_VALID = 9
_HOSTNAME_MISMATCH = 62
_IP_MISMATCH = 64


def refused(why: str, server_name: str) -> str:
    """A refused certificate in words (``why``: untrusted, expired, not_yet_valid,
    wrong_name); the simulation says the same of its sites."""
    return {
        "untrusted": "TLS: the site's certificate is not signed by a trusted CA",
        "expired": "TLS: the site's certificate has expired",
        "not_yet_valid": "TLS: the site's certificate is not valid yet",
        "wrong_name": f"TLS: the site's certificate is not for {server_name}",
    }[why]


def refusal(exc: BaseException, server_name: str) -> str:
    """Why a TLS connection failed, for a status event's reason: the certificate
    refused (and why), or the handshake failed."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        code = exc.verify_code
        if code in _UNTRUSTED:
            return refused("untrusted", server_name)
        if code == _EXPIRED:
            return refused("expired", server_name)
        if code == _NOT_YET_VALID:
            return refused("not_yet_valid", server_name)
        if code in (_HOSTNAME_MISMATCH, _IP_MISMATCH):
            return refused("wrong_name", server_name)
        return f"TLS: the site's certificate was refused ({exc.verify_message})"
    if isinstance(exc, ssl.SSLError):
        return f"TLS: handshake failed ({exc.reason or exc})"
    if isinstance(exc, TlsSettingsError):
        return str(exc)
    return ""
