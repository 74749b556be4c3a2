"""The embedded backend: one ``python -m lab.sites.embedded`` process per site."""

from __future__ import annotations

import sys

from lab.sites.process import ProcessSite


class EmbeddedSite(ProcessSite):
    backend = "embedded"
    marker = "lab.sites.embedded"

    def prepare(self) -> None:
        if self.spec.password is not None:
            self.rundir.chmod(0o700)
            path = self.rundir / "password"
            path.touch(mode=0o600)
            path.chmod(0o600)
            path.write_text(self.spec.password)

    def command(self) -> list[str]:
        spec = self.spec
        cmd = [
            sys.executable,
            "-m",
            "lab.sites.embedded",
            "--name",
            spec.name,
            "--ip",
            spec.ip,
            "--port",
            str(spec.port),
            "--domain",
            spec.domain,
            "--lab-dir",
            str(self.rundir),
        ]
        if spec.password is not None:  # in a file only its owner reads: never on argv
            cmd += ["--password-file", str(self.rundir / "password")]
        for domain, (ip, port) in sorted(spec.peers.items()):
            cmd += ["--peer", f"{domain}={ip}:{port}"]
        for ip, port in spec.aliases:
            cmd += ["--alias", f"{ip}:{port}"]
        if spec.certificate is not None and spec.tls_port is not None:
            cmd += ["--tls-port", str(spec.tls_port), "--cert", str(spec.certificate.cert_file),
                    "--key", str(spec.certificate.key_file)]  # fmt: skip
        if spec.ws_port is not None:
            cmd += ["--ws-port", str(spec.ws_port)]
        if spec.wss_port is not None and spec.certificate is not None:
            cmd += ["--wss-port", str(spec.wss_port)]
        return cmd
