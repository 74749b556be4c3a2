"""SipEndpoint.config and YAML settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from endpoint.config import ConfigError, from_mapping
from endpoint.configfile import from_xml, load

SEED_STYLE = """<?xml version="1.0" encoding="utf-8"?>
<Configuration>
  <Container name ="Basic">
    <Connectivity user ="DN1" server="SipServer1:5060" protocol="UDP"/>
    <Connectivity user ="DN2" server=" SipServer2:5070" protocol=" Tcp"/>
  </Container>
  <Container name="Genesys">
    <domain name="policy">
      <section name="endpoint">
        <setting name="invite_timeout" value="4"/>
        <setting name="some_sdk_setting_we_do_not_know" value="x"/>
      </section>
    </domain>
    <domain name="proxies">
      <section name="proxy0">
        <setting name="reg_interval" value="10"/>
      </section>
      <section name="proxy1">
        <setting name="reg_interval" value="20"/>
        <setting name="keepalive" value="OPTIONS"/>
      </section>
    </domain>
  </Container>
</Configuration>
"""


def test_seed_style_file() -> None:
    cfg = from_xml(SEED_STYLE, file="SipEndpoint.config")
    c0, c1 = cfg.connections
    assert (c0.id, c0.user, c0.server, c0.port, c0.protocol, c0.reg_interval) == (
        0,
        "DN1",
        "SipServer1",
        5060,
        "udp",
        10.0,
    )
    assert (c1.id, c1.user, c1.server, c1.port, c1.protocol, c1.reg_interval) == (
        1,
        "DN2",
        "SipServer2",
        5070,
        "tcp",
        20.0,
    )
    assert c1.keepalive == "options" and c0.keepalive is None
    assert cfg.invite_timeout == 4.0


def test_default_reg_interval_is_3600() -> None:
    cfg = from_xml('<x><Container name="Basic"><Connectivity user="a" server="h"/></Container></x>')
    assert cfg.connections[0].reg_interval == 3600.0 and cfg.connections[0].port == 5060


@pytest.mark.parametrize(
    ("text", "line", "where", "what"),
    [
        (SEED_STYLE.replace('value="20"', 'value="soon"'), 19, "proxy1.reg_interval", "number"),
        (
            SEED_STYLE.replace('protocol=" Tcp"', 'protocol="SCTP"'),
            5,
            "Connectivity[1].protocol",
            "protocol must be",
        ),
        (
            SEED_STYLE.replace('server=" SipServer2:5070"', 'server=""'),
            5,
            "Connectivity[1]",
            "server",
        ),
        (
            SEED_STYLE.replace("SipServer1:5060", "SipServer1:http"),
            4,
            "Connectivity[0].server",
            "not a number",
        ),
        (
            SEED_STYLE.replace("</Container>\n  <Container", "<Container", 1),
            23,
            None,
            "not well-formed",
        ),
    ],
)
def test_errors_name_file_line_and_element(
    text: str, line: int, where: str | None, what: str
) -> None:
    with pytest.raises(ConfigError) as info:
        from_xml(text, file="SipEndpoint.config")
    err = info.value
    assert err.file == "SipEndpoint.config" and err.line == line and err.where == where
    assert what in str(err)
    assert str(err).startswith(f"SipEndpoint.config:{line}:")


def test_proxy_section_without_connection() -> None:
    text = SEED_STYLE.replace('name="proxy1"', 'name="proxy5"')
    with pytest.raises(ConfigError, match="proxy5"):
        from_xml(text)


def test_mapping_and_yaml(tmp_path: Path) -> None:
    cfg = from_mapping(
        {"connections": [{"user": "5001", "server": "127.0.0.2:5070", "protocol": "TCP"}]}
    )
    assert (cfg.connections[0].server, cfg.connections[0].port, cfg.connections[0].protocol) == (
        "127.0.0.2",
        5070,
        "tcp",
    )
    path = tmp_path / "endpoint.yaml"
    path.write_text("connections:\n  - user: '5001'\n    server: 127.0.0.2\n    reg_interval: 10\n")
    assert load(path).connections[0].reg_interval == 10
    path.write_text(
        "connections:\n  - user: '5001'\n    server: 127.0.0.2\n    reg_intervall: 10\n"
    )
    with pytest.raises(ConfigError, match=r"endpoint.yaml:4: connections.0.reg_intervall"):
        load(path)
    path.write_text("connections: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load(path)
    with pytest.raises(ConfigError, match="cannot read"):
        load(tmp_path / "missing.config")


def test_a_config_written_as_sipendpoint_config_reads_back_the_same() -> None:
    from endpoint.config import ConnectionConfig, EndpointConfig
    from endpoint.configfile import to_xml

    config = EndpointConfig(
        connections=[
            ConnectionConfig(id=0, user="5001", server="127.0.0.1", port=5070, reg_interval=10,
                             retry_interval=2, keepalive="options", keepalive_interval=1.5,
                             password="p&<'w", domain="a.geolab.test"),
            ConnectionConfig(id=1, user="5002", server="site-b.test", protocol="tcp",
                             enabled=False, transaction_timeout=4, auth_user="u"),
        ],
        invite_timeout=3, ring_timeout=9, failover=False, auto_answer=True,
        local_host="127.0.0.5", local_port=5090, display_name="Ann & Bob",
    )  # fmt: skip
    text = to_xml(config)
    assert "<Connectivity " in text and 'protocol="TCP"' in text
    assert from_xml(text, file="written") == config


TLS_FILE = """<Configuration>
  <Container name="Basic">
    <Connectivity user="DN1" server="SipServer1:5061" protocol="TLS"/>
    <Connectivity user="DN2" server="SipServer2:5060" protocol="UDP"/>
  </Container>
  <domain name="proxies">
    <section name="proxy0">
      <setting name="tls_ca" value="/etc/ssl/site-ca.pem"/>
      <setting name="tls_server_name" value="sip.example.test"/>
      <setting name="sips" value="true"/>
    </section>
    <section name="proxy1">
      <setting name="sips" value="true"/>
    </section>
  </domain>
</Configuration>
"""


def test_a_tls_connection_is_read_with_its_ca_name_and_sips() -> None:
    cfg = from_xml(TLS_FILE.replace('<setting name="sips" value="true"/>\n    </section>\n  </domain>',
                                    "</section>\n  </domain>"))  # fmt: skip
    c0 = cfg.connections[0]
    assert (c0.protocol, c0.port, c0.tls_ca, c0.server_name, c0.sips) == (
        "tls",
        5061,
        "/etc/ssl/site-ca.pem",
        "sip.example.test",
        True,
    )
    assert cfg.connections[1].server_name == "SipServer2"  # default: the AOR domain


def test_tls_settings_on_a_udp_connection_name_its_line() -> None:
    with pytest.raises(ConfigError) as info:
        from_xml(TLS_FILE, file="SipEndpoint.config")
    assert "sips applies to protocol TLS only" in str(info.value)
    assert info.value.line == 4 and info.value.where == "Connectivity[1]"


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        ("connections:\n  - 5\n", 2, "connections.0: a mapping of the connection's settings"),
        ("connections: 7\n", 1, "connections: a list of connections"),
        ("connections:\n  - user: '5001'\n    server: 127.0.0.2\n    port: 99999\n", 4,
         "connections.0.port: Input should be less than or equal to 65535"),
        ("connections:\n  - user: '5001'\n    server: 127.0.0.2:x\n", 3,
         "connections.0.server:"),
        ("invite_timeout: 5\ninvite_timeout: 6\nconnections: []\n", 2,
         "invite_timeout: given twice (first on line 1)"),
        ("endpoint:\n  connections:\n    - user: '5001'\n      server: 127.0.0.2\n"
         "      user: '5002'\n", 5, "endpoint.connections.0.user: given twice (first on line 3)"),
        ("invite_timeout: " + "9" * 5000 + "\n", 1,
         "invite_timeout: not a valid value: a number too long to read"),
        ("endpoint:\n  invite_timeout: -1\n", 2, "invite_timeout: Input should be greater than"),
    ],
)
def test_every_error_of_a_yaml_settings_file_names_its_line(
    tmp_path: Path, text: str, line: int, what: str
) -> None:
    path = tmp_path / "endpoint.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load(path)
    assert str(err.value).startswith(f"{path}:{line}: {what}"), str(err.value)
