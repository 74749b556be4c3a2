"""Endpoint settings: the models (one endpoint, its connections) and a dict / YAML
mapping of them. Files of settings, the SipEndpoint.config XML among them, are read by
:mod:`endpoint.configfile`."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from endpoint.marked import line_of

PROTOCOLS = ("udp", "tcp", "tls", "ws", "wss")  # ws, wss: SIP over WebSocket (RFC 7118)
SECURE = ("tls", "wss")  # the protocols that run over TLS
# the behaviours the phone's core can be told to get wrong (see EndpointConfig.mutant)
CORE_MUTANTS = ("never_retries", "no_failover", "calls_through_known_down",
                "forgets_reregister", "flaps", "ignores_retry_after", "ignores_423",
                "answered_408_is_timeout", "ignores_pong", "no_retransmissions",
                "lockstep", "keeps_dead_calls", "stays_on_first_target",
                "ignores_ttl")  # fmt: skip
BACKOFFS = ("fixed", "rfc5626")  # how a down site is retried (ConnectionSettings.retry_backoff)
KEEPALIVES = ("options", "crlf")
MAX_FILE = 1 << 20  # bytes: a settings file is at most 1 MiB
MAX_SECONDS = 30 * 86400.0  # no interval or timeout is longer than 30 days
# a time setting: finite, positive, at most MAX_SECONDS (inf, nan and 1e400 are errors)
Seconds = Annotated[float, Field(gt=0, le=MAX_SECONDS, allow_inf_nan=False)]
# values that go onto the wire: SIP syntax, no white space or control characters
User = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.!~*'()&=+$,;?/-]{1,64}$")]
Host = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,253}$")]
DnsServer = Annotated[
    str, StringConstraints(pattern=r"^[0-9]{1,3}(\.[0-9]{1,3}){3}(:[0-9]{1,5})?$")
]
Secret = Annotated[str, StringConstraints(pattern=r"^[\x20-\x7e]{1,128}$")]
# a file's path: printable, no control characters
FilePath = Annotated[str, StringConstraints(pattern=r"^[^\x00-\x1f\x7f]{1,4096}$")]
Display = Annotated[str, StringConstraints(pattern=r'^[^"\\\x00-\x1f\x7f]{0,64}$')]


def _one_of(value: object, choices: tuple[str, ...], what: str) -> object:
    """A name given as text, in any case and with white space around, as one of
    ``choices`` (ValueError names them); anything else is left to the field's type."""
    if isinstance(value, str):
        value = value.strip().lower()
        if value not in choices:
            raise ValueError(f"{what} must be one of {', '.join(choices)}")
    return value


class ConfigError(ValueError):
    """A configuration problem; ``str()`` reads ``file:line: where: what``."""

    def __init__(
        self,
        what: str,
        *,
        file: str | None = None,
        line: int | None = None,
        where: str | None = None,
    ) -> None:
        self.what, self.file, self.line, self.where = what, file, line, where
        prefix = ":".join(str(p) for p in (file, line) if p is not None)
        text = f"{where}: {what}" if where else what
        super().__init__(f"{prefix}: {text}" if prefix else text)


class ConnectionSettings(BaseModel):
    """How a connection behaves, wherever its site is: its transport, timers, keep-alive,
    credentials. Defined once: a drill's connection, a fleet's and an endpoint's own
    (:class:`ConnectionConfig`, which adds who and where) are these settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    protocol: str = "udp"
    reg_interval: Seconds = 3600.0
    retry_interval: Seconds = 30.0
    # "fixed": every retry_interval; "rfc5626": RFC 5626 4.5's flow recovery, with its
    # base-time (all connections failed / another works) and max-time
    retry_backoff: str = "fixed"
    backoff_base_all_failed: Seconds = 30.0
    backoff_base_one_ok: Seconds = 90.0
    backoff_max: Seconds = 1800.0
    transaction_timeout: Seconds = Field(default=32.0, description="64*T1 for this site")
    password: Secret | None = None
    auth_user: User | None = None
    keepalive: str | None = None
    keepalive_interval: Seconds = 30.0
    keepalive_timeout: Seconds = 5.0
    enabled: bool = True
    sips: bool = False  # sips: URIs (TLS only)

    @field_validator("protocol", mode="before")
    @classmethod
    def _protocol(cls, value: object) -> object:
        return _one_of(value, PROTOCOLS, "protocol")

    @field_validator("retry_backoff", mode="before")
    @classmethod
    def _backoff(cls, value: object) -> object:
        return _one_of(value, BACKOFFS, "retry_backoff")

    @field_validator("keepalive", mode="before")
    @classmethod
    def _keepalive(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip().lower()
            if value in ("", "none", "off", "0", "false"):
                return None
            if value not in KEEPALIVES:
                raise ValueError(f"keepalive must be one of {', '.join(KEEPALIVES)} or none")
        return value


SETTINGS = tuple(ConnectionSettings.model_fields)
# the settings that are times in seconds (a drill's bounds may name them)
TIME_SETTINGS = tuple(
    name for name, info in ConnectionSettings.model_fields.items() if info.annotation is float
)


class ConnectionConfig(ConnectionSettings):
    """One connection: a DN registered on one SIP server site, with its settings."""

    id: int = Field(ge=0, le=1_000_000)
    user: User
    server: Host = Field(description="host name or IPv4 address of the site")
    port: int = Field(default=5060, ge=1, le=65535)
    domain: Host | None = Field(default=None, description="AOR domain; default: server")
    # TLS: the CA bundle the site's certificate must chain to (default: the system's),
    # the name it must carry and SNI asks for (default: the AOR domain)
    tls_ca: FilePath | None = None
    tls_server_name: Host | None = None

    @classmethod
    def at(
        cls, settings: ConnectionSettings, *, id: int, user: str, server: str, port: int,
        domain: str | None = None, tls_ca: str | None = None,
    ) -> ConnectionConfig:  # fmt: skip
        """``settings`` (whatever model holds them: a drill's connection, a fleet) for
        ``user`` on the site at ``server``:``port``."""
        return cls(**{n: getattr(settings, n) for n in SETTINGS}, id=id, user=user,
                   server=server, port=port, domain=domain, tls_ca=tls_ca)  # fmt: skip

    @model_validator(mode="after")
    def _tls_only(self) -> ConnectionConfig:
        given = [n for n in ("tls_ca", "tls_server_name") if getattr(self, n)]
        if self.protocol not in SECURE and given:
            raise ValueError(f"{given[0]} applies to protocols TLS and WSS only")
        if self.protocol != "tls" and self.sips:
            raise ValueError("sips applies to protocol TLS only")
        return self

    @field_validator("server", mode="before")
    @classmethod
    def _not_ipv6(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                address = ipaddress.ip_address(value.strip().strip("[]"))
            except ValueError:
                return value  # a host name (checked as one)
            if address.version != 4:
                raise ValueError(f"{value}: IPv6 is not supported by this endpoint (IPv4, a name)")
        return value

    @field_validator("user", "server", mode="before")
    @classmethod
    def _trim(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value

    @property
    def aor_domain(self) -> str:
        return self.domain or self.server

    @property
    def server_name(self) -> str:
        """The name the site's TLS certificate must carry (and SNI asks for)."""
        return self.tls_server_name or self.aor_domain


class EndpointConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    connections: list[ConnectionConfig] = Field(default_factory=list, max_length=64)
    local_host: Host = "127.0.0.1"
    local_port: int = Field(default=0, ge=0, le=65535)
    invite_timeout: Seconds = Field(default=32.0, description="no answer from a site")
    # the DNS server that finds sites named by host name (RFC 3263: NAPTR, SRV, A), as
    # "address:port" (port 53 if none); None: the system's resolver, A records only
    dns_server: DnsServer | None = None
    dns_timeout: Seconds = Field(default=2.0, description="a DNS question unanswered this long")
    # RFC 4028 session timers: the interval a call's INVITE asks for (the phone refreshes at
    # half of it; a refresh that fails ends the call). None: no session timer (RFC 4028
    # wants at least 90 s; a drill may scale it down)
    session_expires: Seconds | None = None
    ring_timeout: Seconds = Field(default=120.0, description="an inbound call rings this long")
    failover: bool = True
    display_name: Display | None = None
    auto_answer: bool = False
    # one behaviour deliberately broken (endpoint.core.mutants): for `geolab bench mutants`,
    # which proves the drill library fails an endpoint that gets DR wrong; never set it else
    mutant: str | None = None

    @field_validator("mutant")
    @classmethod
    def _a_mutant(cls, value: str | None) -> str | None:
        if value is not None and value not in CORE_MUTANTS:
            raise ValueError(f"mutant {value!r}: not one of {', '.join(CORE_MUTANTS)}")
        return value

    @field_validator("connections")
    @classmethod
    def _unique_ids(cls, value: list[ConnectionConfig]) -> list[ConnectionConfig]:
        ids = [c.id for c in value]
        if len(set(ids)) != len(ids):
            raise ValueError(f"connection ids repeat: {ids}")
        return value


def split_server(text: str) -> tuple[str, int | None]:
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":")
    else:
        host, _, port = text.partition(":")
    if not host:
        raise ValueError(f"no host in server {text!r}")
    if port and not port.isdigit():
        raise ValueError(f"port {port!r} of server {text!r} is not a number")
    return host, int(port) if port else None


def from_mapping(
    data: dict[str, Any], *, file: str | None = None,
    lines: dict[tuple[str | int, ...], int] | None = None, prefix: tuple[str, ...] = (),
) -> EndpointConfig:  # fmt: skip
    """Settings from a dict (as YAML gives them). ``server`` may carry ``host:port``.
    ``lines`` (by path, under ``prefix``) puts the line of what is wrong in the error."""
    marks = lines or {}

    def line(*path: str | int) -> int | None:
        return line_of(marks, (*prefix, *path)) if marks else None

    data = dict(data)
    raws = data.pop("connections", []) or []
    if not isinstance(raws, list):
        raise ConfigError("a list of connections", file=file, line=line("connections"),
                          where="connections")  # fmt: skip
    for i, raw in enumerate(raws):
        if not isinstance(raw, dict):
            raise ConfigError(f"a mapping of the connection's settings, not {raw!r}",
                              file=file, line=line("connections", i),
                              where=f"connections.{i}")  # fmt: skip
    try:
        conns = []
        for i, raw in enumerate(raws):
            item = dict(raw)
            item.setdefault("id", i)
            if isinstance(item.get("server"), str) and "port" not in item:
                try:
                    host, port = split_server(item["server"])
                except ValueError as exc:
                    raise ConfigError(str(exc), file=file, line=line("connections", i, "server"),
                                      where=f"connections.{i}.server") from None  # fmt: skip
                item["server"] = host
                if port is not None:
                    item["port"] = port
            conns.append(item)
        return EndpointConfig.model_validate({**data, "connections": conns})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(first["msg"], file=file, line=line(*first["loc"]), where=where) from None
    except ConfigError:
        raise
    except (ValueError, TypeError) as exc:
        raise ConfigError(str(exc), file=file, line=line()) from None
