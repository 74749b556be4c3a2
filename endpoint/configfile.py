"""Files of endpoint settings: the SipEndpoint.config XML format, or a YAML/JSON mapping.

The XML is read as the SDK writes it: ``<Connectivity user=… server=host:port protocol=…/>``
elements inside ``<Container name="Basic">`` (one per connection, in order: connection 0,
1, …) and ``<domain name="proxies"><section name="proxyN"><setting name=… value=…/>`` for
connection N, wherever those elements sit in the document. Values are trimmed; protocol is
case-insensitive. Settings this endpoint does not know are ignored (a real file carries
many); a known setting with a bad value is an error naming the file, line and setting.
"""

from __future__ import annotations

import xml.parsers.expat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

from pydantic import ValidationError

from endpoint.config import (
    MAX_FILE,
    SETTINGS,
    ConfigError,
    EndpointConfig,
    from_mapping,
    split_server,
)
from endpoint.marked import MarkedError, load_marked


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


# a connection's settings in its <section name="proxyN">: the SDK names them as the model
# does (its protocol is on <Connectivity>), and where its site is known by
PROXY_SETTINGS = {
    name: name
    for name in (*SETTINGS, "domain", "tls_ca", "tls_server_name")
    if name != "protocol"
}
ENDPOINT_SETTINGS = (
    "invite_timeout", "ring_timeout", "failover", "local_host", "local_port", "auto_answer",
    "display_name", "session_expires", "mutant", "dns_server", "dns_timeout",
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
        data, lines = load_marked(text)
    except MarkedError as exc:
        raise ConfigError(exc.what, file=str(p), line=exc.line) from None
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping of settings", file=str(p), line=1)
    inner = "endpoint" in data
    settings = data["endpoint"] if inner else data
    if not isinstance(settings, dict):
        raise ConfigError("expected a mapping of settings", file=str(p),
                          line=lines.get(("endpoint",)), where="endpoint")  # fmt: skip
    return from_mapping(settings, file=str(p), lines=lines, prefix=("endpoint",) if inner else ())
