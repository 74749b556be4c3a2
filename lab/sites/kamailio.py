"""A site made of one local Kamailio process (Debian package ``kamailio``).

Each site runs in its own session (process group) so that kill, hang and resume reach
Kamailio's children too; it has its own 127.x address, runtime folder and generated
config, and is started and stopped by PID.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
from pathlib import Path

from lab.errors import LabError
from lab.sites.base import SiteSpec
from lab.sites.process import ProcessSite

TEMPLATE = Path(__file__).with_name("templates") / "kamailio.cfg"


def kamailio_binary() -> str | None:
    """Kamailio's path (GEOLAB_KAMAILIO overrides it; "none" hides an installed one)."""
    configured = os.environ.get("GEOLAB_KAMAILIO")
    if configured is not None:
        return None if configured in ("", "none") else configured
    return shutil.which("kamailio") or next(
        (p for p in ("/usr/sbin/kamailio", "/usr/local/sbin/kamailio") if os.access(p, os.X_OK)),
        None,
    )


def module_path() -> str:
    for pattern in (
        "/usr/lib/*/kamailio/modules",
        "/usr/lib/kamailio/modules",
        "/usr/local/lib*/kamailio/modules",
    ):
        found = sorted(glob.glob(pattern))
        if found:
            return found[0] + "/"
    raise LabError("Kamailio modules not found", hint="apt-get install -y kamailio")


SUN_PATH_MAX = 100  # a unix socket's path must fit sockaddr_un (108 bytes, with room)


def control_socket(rundir: Path) -> Path:
    """Kamailio's control socket: in the site's folder, or, where that path would be too
    long for a unix socket, under the temporary folder by a digest of it."""
    inside = rundir / "ctl"
    if len(str(inside)) <= SUN_PATH_MAX:
        return inside
    digest = hashlib.sha1(str(rundir).encode()).hexdigest()[:16]
    return Path("/tmp") / f"geolab-ctl-{digest}"


def cfg_string(value: str) -> str:
    """``value`` as a Kamailio script string's contents (backslash and quote escaped, no
    line breaks), so no value can end the string and write script."""
    if any(ch in value for ch in "\r\n\0"):
        raise LabError(f"a value for kamailio.cfg holds a line break or NUL: {value[:40]!r}")
    return value.replace("\\", "\\\\").replace('"', '\\"')


def cfg_format(value: str) -> str:
    """``value`` as the contents of a string Kamailio reads as a format (a function's
    parameter where pseudo-variables are expanded, as ``pv_auth_check``'s password): as
    :func:`cfg_string`, and ``$``, which would start a pseudo-variable, doubled."""
    return cfg_string(value).replace("$", "$$")


def tls_module_installed() -> bool:
    """Whether Kamailio's TLS module is there (Debian package ``kamailio-tls-modules``)."""
    try:
        return Path(module_path(), "tls.so").exists()
    except LabError:
        return False


def websocket_module_installed() -> bool:
    """Whether Kamailio's WebSocket module is there (``kamailio-websocket-modules``)."""
    try:
        return Path(module_path(), "websocket.so").exists()
    except LabError:
        return False


WS_ROUTE = """
# SIP over WebSocket (RFC 7118): an HTTP upgrade on a ws or wss listener becomes a SIP
# connection; a WS client's requests are routed back over that connection (its Contact
# names a host no one can reach: fix_nated_register / add_contact_alias above)
event_route[xhttp:request] {
    set_reply_close();
    set_reply_no_connect();
    if ($hdr(Upgrade) =~ "websocket" && $hdr(Connection) =~ "Upgrade" && $rm =~ "GET") {
        if (ws_handle_handshake()) {
            exit;
        }
    }
    xhttp_reply("404", "Not Found", "", "");
}
"""


def tls_settings(cert_file: str, key_file: str) -> str:
    """The TLS module's own file: the site's certificate for every client; clients are not
    asked for one."""
    return (
        "[server:default]\nmethod = TLSv1.2+\nverify_certificate = no\n"
        "require_certificate = no\n"
        f"private_key = {key_file}\ncertificate = {cert_file}\n\n"
        "[client:default]\nmethod = TLSv1.2+\nverify_certificate = no\n"
        "require_certificate = no\n"
    )


def render_config(
    spec: SiteSpec, rundir: Path, *, debug: int = 1, tls_file: str | None = None
) -> str:
    """kamailio.cfg for ``spec``; with ``tls_file`` (the TLS module's settings, see
    :func:`tls_settings`) it listens on TLS too, on ``spec.tls_port``."""
    auth = ""
    if spec.password is not None:
        auth = (
            f'    if (!pv_auth_check("$td", "{cfg_format(spec.password)}", "0", "1")) {{\n'
            '        auth_challenge("$td", "0");\n'
            "        exit;\n"
            "    }\n"
            "    consume_credentials();"
        )
    peers = "\n".join(
        f'    if ($rd == "{domain}") {{\n'
        f'        $du = "sip:{ip}:{port}";\n'
        "        route(RELAY);\n"
        "    }"
        for domain, (ip, port) in sorted(spec.peers.items())
    )
    values = {
        "NAME": spec.name,
        "DOMAIN": spec.domain,
        "IP": spec.ip,
        "PORT": str(spec.port),
        "RUNDIR": str(rundir),
        "CTL": str(control_socket(rundir)),
        "ALIASES": "\n".join(f'alias="{ip}:{port}"' for ip, port in spec.aliases),
        "MPATH": module_path(),
        "DEBUG": str(debug),
        "FR_TIMER": str(int(spec.fr_timer * 1000)),
        "FR_INV_TIMER": str(int(spec.fr_inv_timer * 1000)),
        "AUTH_CHECK": auth,
        "PEER_ROUTES": peers or "    return;",
        "TLS_LISTEN": "",
        "TLS_MODULE": "",
        "WS_LISTEN": "",
        "WS_MODULE": "",
        "WS_ROUTE": "",
    }
    if spec.ws_port is not None:
        values["WS_LISTEN"] = f"tcp_accept_no_cl=yes\nlisten=tcp:{spec.ip}:{spec.ws_port}"
        values["WS_MODULE"] = 'loadmodule "xhttp.so"\nloadmodule "websocket.so"'
        values["WS_ROUTE"] = WS_ROUTE
        if tls_file is not None and spec.wss_port is not None:
            values["WS_LISTEN"] += f"\nlisten=tls:{spec.ip}:{spec.wss_port}"
    if tls_file is not None and spec.tls_port is not None:
        values["TLS_LISTEN"] = f"enable_tls=yes\nlisten=tls:{spec.ip}:{spec.tls_port}"
        values["TLS_MODULE"] = (
            f'loadmodule "tls.so"\nmodparam("tls", "config", "{cfg_string(tls_file)}")'
        )
    text = TEMPLATE.read_text()
    for key, value in values.items():
        text = text.replace(f"@@{key}@@", value)
    return text


class KamailioSite(ProcessSite):
    backend = "kamailio"
    marker = "kamailio"

    def __init__(self, spec: SiteSpec, rundir: Path, *, shm_mb: int = 32, pkg_mb: int = 8) -> None:
        super().__init__(spec, rundir)
        self.shm_mb = shm_mb
        self.pkg_mb = pkg_mb
        self.cfg_path = rundir / "kamailio.cfg"

    def prepare(self) -> None:
        (self.rundir / "kamailio.pid").unlink(missing_ok=True)
        self.rundir.chmod(0o700)  # the config holds the digest password
        self.cfg_path.touch(mode=0o600)
        self.cfg_path.chmod(0o600)
        tls_file = None
        cert = self.spec.certificate
        if self.spec.ws_port is not None and not websocket_module_installed():
            raise LabError(
                "Kamailio's WebSocket module is not installed",
                hint="apt-get install -y kamailio-websocket-modules",
            )
        if cert is not None and self.spec.tls_port is not None:
            if not tls_module_installed():
                raise LabError(
                    "Kamailio's TLS module is not installed",
                    hint="apt-get install -y kamailio-tls-modules",
                )
            tls_path = self.rundir / "tls.cfg"
            tls_path.write_text(tls_settings(str(cert.cert_file), str(cert.key_file)))
            tls_file = str(tls_path)
        self.cfg_path.write_text(render_config(self.spec, self.rundir, tls_file=tls_file))

    async def _terminate(self) -> None:
        await super()._terminate()
        control_socket(self.rundir).unlink(missing_ok=True)

    def command(self) -> list[str]:
        binary = kamailio_binary()
        if binary is None:
            raise LabError("kamailio is not installed", hint="apt-get install -y kamailio")
        return [
            binary,
            "-DD",
            "-E",
            "-f",
            str(self.cfg_path),
            "-Y",
            str(self.rundir),
            "-P",
            str(self.rundir / "kamailio.pid"),
            "-m",
            str(self.shm_mb),
            "-M",
            str(self.pkg_mb),
        ]
