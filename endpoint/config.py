"""Endpoint settings: the SipEndpoint.config XML format, or a dict / YAML mapping.

The XML is read as the SDK writes it: ``<Connectivity user=… server=host:port protocol=…/>``
elements inside ``<Container name="Basic">`` (one per connection, in order: connection 0,
1, …) and ``<domain name="proxies"><section name="proxyN"><setting name=… value=…/>`` for
connection N, wherever those elements sit in the document. Values are trimmed; protocol is
case-insensitive. Settings this endpoint does not know are ignored (a real file carries
many); a known setting with a bad value is an error naming the file, line and setting.
"""

from __future__ import annotations

import ipaddress
import xml.parsers.expat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from xml.sax.saxutils import quoteattr

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

PROTOCOLS = ("udp", "tcp", "tls")
KEEPALIVES = ("options", "crlf")
MAX_FILE = 1 << 20  # bytes: a settings file is at most 1 MiB
MAX_SECONDS = 30 * 86400.0  # no interval or timeout is longer than 30 days
# a time setting: finite, positive, at most MAX_SECONDS (inf, nan and 1e400 are errors)
Seconds = Annotated[float, Field(gt=0, le=MAX_SECONDS, allow_inf_nan=False)]
# values that go onto the wire: SIP syntax, no white space or control characters
User = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.!~*'()&=+$,;?/-]{1,64}$")]
Host = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,253}$")]
Secret = Annotated[str, StringConstraints(pattern=r"^[\x20-\x7e]{1,128}$")]
# a file's path: printable, no control characters
FilePath = Annotated[str, StringConstraints(pattern=r"^[^\x00-\x1f\x7f]{1,4096}$")]
Display = Annotated[str, StringConstraints(pattern=r'^[^"\\\x00-\x1f\x7f]{0,64}$')]


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


class ConnectionConfig(BaseModel):
    """One connection: a DN registered on one SIP server site."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: int = Field(ge=0, le=1_000_000)
    user: User
    server: Host = Field(description="host name or IPv4 address of the site")
    port: int = Field(default=5060, ge=1, le=65535)
    protocol: str = "udp"
    domain: Host | None = Field(default=None, description="AOR domain; default: server")
    reg_interval: Seconds = 3600.0
    retry_interval: Seconds = 30.0
    transaction_timeout: Seconds = Field(default=32.0, description="64*T1 for this site")
    password: Secret | None = None
    auth_user: User | None = None
    keepalive: str | None = None
    keepalive_interval: Seconds = 30.0
    keepalive_timeout: Seconds = 5.0
    enabled: bool = True
    # TLS: the CA bundle the site's certificate must chain to (default: the system's),
    # the name it must carry and SNI asks for (default: the AOR domain), sips: URIs
    tls_ca: FilePath | None = None
    tls_server_name: Host | None = None
    sips: bool = False

    @model_validator(mode="after")
    def _tls_only(self) -> ConnectionConfig:
        given = [n for n in ("tls_ca", "tls_server_name", "sips") if getattr(self, n)]
        if self.protocol != "tls" and given:
            raise ValueError(f"{given[0]} applies to protocol TLS only")
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

    @field_validator("protocol", mode="before")
    @classmethod
    def _protocol(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip().lower()
            if value not in PROTOCOLS:
                raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}")
        return value

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
    ring_timeout: Seconds = Field(default=120.0, description="an inbound call rings this long")
    failover: bool = True
    display_name: Display | None = None
    auto_answer: bool = False

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


def from_mapping(data: dict[str, Any], *, file: str | None = None) -> EndpointConfig:
    """Settings from a dict (as YAML gives them). ``server`` may carry ``host:port``."""
    try:
        data = dict(data)
        conns = []
        for i, raw in enumerate(data.pop("connections", []) or []):
            item = dict(raw)
            item.setdefault("id", i)
            if isinstance(item.get("server"), str) and "port" not in item:
                host, port = split_server(item["server"])
                item["server"] = host
                if port is not None:
                    item["port"] = port
            conns.append(item)
        return EndpointConfig.model_validate({**data, "connections": conns})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(first["msg"], file=file, where=where) from None
    except (ValueError, TypeError) as exc:
        raise ConfigError(str(exc), file=file) from None


# --- SipEndpoint.config --------------------------------------------------------------
@dataclass
class _Node:
    tag: str
    attrs: dict[str, str]
    line: int
    children: list[_Node] = field(default_factory=list)

    def iter(self) -> list[_Node]:
        out = [self]
        for child in self.children:
            out += child.iter()
        return out


def _parse_xml(text: str, file: str) -> _Node:
    root = _Node("#document", {}, 0)
    stack = [root]
    parser = xml.parsers.expat.ParserCreate()

    def start(tag: str, attrs: dict[str, str]) -> None:
        node = _Node(tag, {k: v.strip() for k, v in attrs.items()}, parser.CurrentLineNumber)
        stack[-1].children.append(node)
        stack.append(node)

    def end(tag: str) -> None:
        stack.pop()

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        parser.Parse(text, True)
    except xml.parsers.expat.ExpatError as exc:
        raise ConfigError(
            f"not well-formed XML: {xml.parsers.expat.ErrorString(exc.code)}",
            file=file,
            line=exc.lineno,
        ) from None
    return root


PROXY_SETTINGS = {
    "reg_interval": "reg_interval",
    "retry_interval": "retry_interval",
    "transaction_timeout": "transaction_timeout",
    "password": "password",
    "auth_user": "auth_user",
    "domain": "domain",
    "keepalive": "keepalive",
    "keepalive_interval": "keepalive_interval",
    "keepalive_timeout": "keepalive_timeout",
    "enabled": "enabled",
    "tls_ca": "tls_ca",
    "tls_server_name": "tls_server_name",
    "sips": "sips",
}
ENDPOINT_SETTINGS = (
    "invite_timeout", "ring_timeout", "failover", "local_host", "local_port", "auto_answer",
    "display_name",
)  # fmt: skip


def from_xml(text: str, *, file: str = "<config>") -> EndpointConfig:
    """Read the SipEndpoint.config format."""
    root = _parse_xml(text, file)
    nodes = root.iter()
    connectivity = [
        n for n in nodes if n.tag == "Connectivity"
    ]  # in document order = connection ids 0, 1, …
    if not connectivity:
        raise ConfigError("no <Connectivity> element", file=file)
    lines: dict[int, int] = {}
    connections: list[dict[str, Any]] = []
    for index, node in enumerate(connectivity):
        where = f"Connectivity[{index}]"
        for required in ("user", "server"):
            if not node.attrs.get(required):
                raise ConfigError(f"attribute {required!r} is missing or empty", file=file,
                                  line=node.line, where=where)  # fmt: skip
        try:
            host, port = split_server(node.attrs["server"])
        except ValueError as exc:
            raise ConfigError(
                str(exc), file=file, line=node.line, where=f"{where}.server"
            ) from None
        item: dict[str, Any] = {"id": index, "user": node.attrs["user"], "server": host}
        if port is not None:
            item["port"] = port
        if node.attrs.get("protocol"):
            item["protocol"] = node.attrs["protocol"]
        connections.append(item)
        lines[index] = node.line
    endpoint: dict[str, Any] = {}
    setting_lines: dict[tuple[int | None, str], int] = {}
    for domain in (n for n in nodes if n.tag == "domain"):
        for section in (s for s in domain.iter() if s.tag == "section"):
            name = section.attrs.get("name", "")
            for setting in (s for s in section.children if s.tag == "setting"):
                key, value = setting.attrs.get("name", ""), setting.attrs.get("value", "")
                if domain.attrs.get("name") == "proxies" and name.startswith("proxy"):
                    number = name.removeprefix("proxy")
                    if not number.isdigit():
                        continue
                    n = int(number)
                    if n >= len(connections):
                        raise ConfigError(
                            f"section {name!r} has no matching <Connectivity>",
                            file=file,
                            line=section.line,
                            where=name,
                        )
                    if key in PROXY_SETTINGS:
                        connections[n][PROXY_SETTINGS[key]] = value
                        setting_lines[(n, PROXY_SETTINGS[key])] = setting.line
                elif key in ENDPOINT_SETTINGS:
                    endpoint[key] = value
                    setting_lines[(None, key)] = setting.line
    try:
        return EndpointConfig.model_validate({**endpoint, "connections": connections})
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = first["loc"]
        if loc and loc[0] == "connections" and len(loc) >= 3 and isinstance(loc[1], int):
            n, key = loc[1], str(loc[2])
            line = setting_lines.get((n, key), lines.get(n))
            where = f"proxy{n}.{key}" if (n, key) in setting_lines else f"Connectivity[{n}].{key}"
        elif len(loc) == 2 and loc[0] == "connections" and isinstance(loc[1], int):
            line, where = lines.get(loc[1]), f"Connectivity[{loc[1]}]"  # the whole connection
        else:
            key = str(loc[0]) if loc else ""
            line, where = setting_lines.get((None, key)), key
        raise ConfigError(first["msg"], file=file, line=line, where=where) from None


def to_xml(config: EndpointConfig) -> str:
    """``config`` as a SipEndpoint.config, as the seed's SDK reads it (``from_xml`` reads
    it back to the same settings)."""

    def setting(name: str, value: object) -> str:
        text = str(value).lower() if isinstance(value, bool) else str(value)
        return f"        <setting name={quoteattr(name)} value={quoteattr(text)}/>"

    lines = ['<?xml version="1.0" encoding="utf-8"?>', "<Configuration>",
             '  <Container name="Basic">']  # fmt: skip
    ordered = sorted(config.connections, key=lambda c: c.id)
    if [c.id for c in ordered] != list(range(len(ordered))):
        raise ConfigError("a SipEndpoint.config numbers its connections 0, 1, … in order")
    for c in ordered:
        server = quoteattr(f"{c.server}:{c.port}")
        lines.append(f"    <Connectivity user={quoteattr(c.user)} server={server} "
                     f"protocol={quoteattr(c.protocol.upper())}/>")  # fmt: skip
    lines += ["  </Container>", '  <Container name="Genesys">', '    <domain name="policy">',
              '      <section name="endpoint">']  # fmt: skip
    for key in ENDPOINT_SETTINGS:
        value = getattr(config, key)
        if value is not None:
            lines.append(setting(key, value))
    lines += ["      </section>", "    </domain>", '    <domain name="proxies">']
    for c in ordered:
        lines.append(f'      <section name="proxy{c.id}">')
        for key in PROXY_SETTINGS:
            value = getattr(c, key)
            if value is not None:
                lines.append(setting(key, value))
        lines.append("      </section>")
    lines += ["    </domain>", "  </Container>", "</Configuration>", ""]
    return "\n".join(line for line in lines if line)


def load(path: str | Path) -> EndpointConfig:
    """Load a SipEndpoint.config (XML) or a YAML/JSON file of the same settings."""
    p = Path(path)
    try:
        if (size := p.stat().st_size) > MAX_FILE:
            raise ConfigError(f"too big: {size} bytes (at most {MAX_FILE})", file=str(p))
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", file=str(p)) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(f"not UTF-8 (offset {exc.start})", file=str(p), line=line) from None
    if text.lstrip().startswith("<"):
        return from_xml(text, file=str(p))
    try:
        data = yaml.safe_load(text)
    except RecursionError:
        raise ConfigError("nested too deep", file=str(p)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(f"not valid YAML: {getattr(exc, 'problem', exc)}", file=str(p),
                          line=mark.line + 1 if mark else None) from None  # fmt: skip
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping of settings", file=str(p))
    return from_mapping(data.get("endpoint", data), file=str(p))
