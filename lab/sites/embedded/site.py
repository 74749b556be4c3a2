"""The embedded backend: one ``python -m lab.sites.embedded`` process per site."""

from __future__ import annotations

import sys

from lab.sites.process import ProcessSite


class EmbeddedSite(ProcessSite):
    backend = "embedded"
    marker = "lab.sites.embedded"

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
        if spec.password is not None:
            cmd += ["--password", spec.password]
        for domain, (ip, port) in sorted(spec.peers.items()):
            cmd += ["--peer", f"{domain}={ip}:{port}"]
        return cmd
