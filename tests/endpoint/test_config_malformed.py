"""A corpus of malformed settings files (SipEndpoint.config XML and YAML): each is a
ConfigError naming the file (and the line where there is one), never another exception."""

from __future__ import annotations

from pathlib import Path

import pytest

from endpoint.config import ConfigError
from endpoint.configfile import load

XML = """<?xml version="1.0" encoding="utf-8"?>
<Configuration>
  <Container name="Basic">
    <Connectivity user="DN1" server="SipServer1:5060" protocol="UDP"/>
  </Container>
  <Container name="Genesys">
    <domain name="proxies">
      <section name="proxy0">
        <setting name="reg_interval" value="10"/>
      </section>
    </domain>
  </Container>
</Configuration>
"""
YAML = "connections:\n  - {user: '5001', server: '127.0.0.1:5060', reg_interval: 10}\n"

XML_CHANGES = [
    ('value="10"', 'value="inf"'), ('value="10"', 'value="1e400"'), ('value="10"', 'value="-1"'),
    ('value="10"', 'value="nan"'), ('value="10"', 'value="soon"'), ('value="10"', 'value="0"'),
    ('name="reg_interval" value="10"', 'name="sips" value="true"'), ('protocol="UDP"', 'protocol="SCTP"'),
    ('user="DN1"', 'user="DN1&#13;&#10;X-Evil: 1"'), ('user="DN1"', 'user=""'),
    ('user="DN1"', 'user="a b"'), ('server="SipServer1:5060"', 'server="[::1]:5060"'),
    ('server="SipServer1:5060"', 'server="host:99999"'), ('server="SipServer1:5060"', 'server="host:x"'),
    ('server="SipServer1:5060"', 'server=":5060"'), ("</Configuration>", "</Configuration"),
    ("<Container", "<Container <"), ('name="reg_interval"', 'name="keepalive"'),
]  # fmt: skip
YAML_CHANGES = [
    ("reg_interval: 10", "reg_interval: .inf"), ("reg_interval: 10", "reg_interval: 1e400"),
    ("reg_interval: 10", "reg_interval: [1]"), ("'5001'", "'50 01'"), ("'5001'", "\"5001\\r\\nX: y\""),
    ("'127.0.0.1:5060'", "'[::1]:5060'"), ("'127.0.0.1:5060'", "'bad host'"),
    ("reg_interval: 10", "reg_intervall: 10"), ("reg_interval: 10", "reg_interval: 10, sips: true"),
    ("connections:", "connections: 7\nx:"), ("{user", "{{user"),
]  # fmt: skip


def write(tmp_path: Path, name: str, data: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


def test_the_base_files_load(tmp_path: Path) -> None:
    assert load(write(tmp_path, "SipEndpoint.config", XML)).connections[0].reg_interval == 10
    assert load(write(tmp_path, "e.yaml", YAML)).connections[0].reg_interval == 10


@pytest.mark.parametrize("change", XML_CHANGES, ids=[new for _, new in XML_CHANGES])
def test_a_malformed_sipendpoint_config(tmp_path: Path, change: tuple[str, str]) -> None:
    assert change[0] in XML
    path = write(tmp_path, "SipEndpoint.config", XML.replace(*change, 1))
    with pytest.raises(ConfigError) as info:
        load(path)
    assert str(info.value).startswith(f"{path}:") and info.value.line is not None


@pytest.mark.parametrize("change", YAML_CHANGES, ids=[new for _, new in YAML_CHANGES])
def test_a_malformed_yaml_config(tmp_path: Path, change: tuple[str, str]) -> None:
    assert change[0] in YAML
    path = write(tmp_path, "e.yaml", YAML.replace(*change, 1))
    with pytest.raises(ConfigError) as info:
        load(path)
    assert str(info.value).startswith(f"{path}")


@pytest.mark.parametrize(
    "data",
    [b"\xff\xfe<x/>", b"", b"[" * 100_000, b"- a\n- b\n", b"<x>" + b"<y>" * 50_000],
    ids=["not-utf8", "empty", "deep-yaml", "a-list", "deep-xml"],
)
def test_files_that_are_no_settings_at_all(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(ConfigError) as info:
        load(write(tmp_path, "e.config", data))
    assert str(tmp_path / "e.config") in str(info.value)


def test_a_huge_file_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "big.config"
    with path.open("wb") as f:
        f.truncate(20 * 1024 * 1024)
    with pytest.raises(ConfigError, match="too big"):
        load(path)
