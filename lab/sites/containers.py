"""The compose backend: sites as containers of geolab's compose project (``compose/``),
brought up with docker-compose and hurt with the docker SDK (kill, pause/unpause, stop,
restart, network disconnect/connect).

The engine is the one ``DOCKER_HOST`` names, or the private engine that
``compose/engine.sh up`` starts. The host reaches the containers through that engine's
namespace (a veth and a route); probes and the fault proxy use the host side of that link.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import docker

from lab.errors import LabError, SiteStartError
from lab.sites.base import Site, SiteSpec
from lab.sites.kamailio import render_config, tls_settings

COMPOSE_DIR = Path(__file__).resolve().parents[2] / "compose"
ENGINE_SOCK = "/var/lib/geolab-engine/docker.sock"
ENGINE_HOST_IP = "198.19.255.1"
SITES = ("a", "b")  # the services the compose project defines


def engine_env() -> dict[str, str]:
    env = dict(os.environ)
    if "DOCKER_HOST" not in env and Path(ENGINE_SOCK).exists():
        env["DOCKER_HOST"] = f"unix://{ENGINE_SOCK}"
    return env


def engine_host_ip() -> str:
    return os.environ.get("GEOLAB_ENGINE_HOST_IP", ENGINE_HOST_IP)


def docker_client() -> Any:
    env = engine_env()
    try:
        client = docker.DockerClient(base_url=env.get("DOCKER_HOST", "unix:///var/run/docker.sock"))
        client.ping()
    except Exception as exc:
        raise LabError(
            f"the compose backend needs a container engine; none answers ({type(exc).__name__})",
            hint="start geolab's private engine with `sudo compose/engine.sh up`, "
            "or point DOCKER_HOST at a running one",
        ) from None
    return client


def compose_command() -> list[str]:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker"):
        return ["docker", "compose"]
    raise LabError(
        "neither docker-compose nor the docker compose plugin is installed",
        hint="apt-get install -y docker-compose",
    )


class ComposeProject:
    """One lab's copy of the compose project: its own name and its own /24."""

    def __init__(self, name: str, rundir: Path, subnet: str) -> None:
        self.name = name
        self.rundir = rundir
        self.subnet = subnet  # three octets, e.g. "198.18.21"
        self.client: Any = None
        self._up = asyncio.Lock()
        self.started = False

    def ip(self, site: str) -> str:
        return f"{self.subnet}.{11 + SITES.index(site)}"

    def _compose(self, *args: str) -> subprocess.CompletedProcess[str]:
        files = [
            "-f",
            str(COMPOSE_DIR / "docker-compose.yml"),
            "-f",
            str(COMPOSE_DIR / "docker-compose.geolab.yml"),
        ]
        env = {**engine_env(), "GEOLAB_RUN": str(self.rundir), "GEOLAB_SUBNET": self.subnet}
        return subprocess.run(
            [*compose_command(), "-p", self.name, *files, *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )

    async def ensure_up(self) -> None:
        async with self._up:
            if self.started:
                return
            self.client = await asyncio.to_thread(docker_client)
            result = await asyncio.to_thread(self._compose, "up", "-d", "--no-build")
            if result.returncode != 0:
                raise SiteStartError(
                    f"docker-compose up of project {self.name} failed",
                    log=result.stdout + result.stderr,
                    hint="is the image built? `sudo compose/engine.sh up` builds it",
                )
            self.started = True

    async def down(self) -> None:
        if self.started:
            await asyncio.to_thread(self._compose, "down", "-v", "--remove-orphans", "-t", "1")
            self.started = False

    def container(self, site: str) -> Any:
        found = self.client.containers.list(
            all=True,
            filters={"label": [f"com.docker.compose.project={self.name}", f"geolab.site={site}"]},
        )
        if not found:
            raise LabError(f"no container for site {site!r} in project {self.name}")
        return found[0]

    def network(self) -> Any:
        return self.client.networks.get(f"{self.name}_sites")


def free_subnet() -> str:
    """A /24 in 198.18.16.0/20 that no network of the engine uses yet."""
    client = docker_client()
    used = set()
    for net in client.networks.list():
        for cfg in (net.attrs.get("IPAM") or {}).get("Config") or []:
            used.add(".".join(str(cfg.get("Subnet", "")).split(".")[:3]))
    for third in range(20, 32):
        candidate = f"198.18.{third}"
        if candidate not in used:
            return candidate
    raise LabError("no free subnet left for another compose lab (198.18.20-31.0/24 in use)")


class ContainerSite(Site):
    backend = "compose"

    def __init__(self, spec: SiteSpec, project: ComposeProject) -> None:
        if spec.name not in SITES:
            raise LabError(f"the compose project has sites {', '.join(SITES)}, not {spec.name!r}")
        super().__init__(spec)
        self.project = project
        self.probe_source = engine_host_ip()

    async def _launch(self) -> None:
        cfg_dir = self.project.rundir / self.name
        cfg_dir.mkdir(parents=True, exist_ok=True)
        tls_file = None
        cert = self.spec.certificate
        if cert is not None and self.spec.tls_port is not None:  # the folder is /etc/geolab
            shutil.copyfile(cert.cert_file, cfg_dir / "cert.pem")
            (cfg_dir / "key.pem").touch(mode=0o600)
            shutil.copyfile(cert.key_file, cfg_dir / "key.pem")
            (cfg_dir / "tls.cfg").write_text(
                tls_settings("/etc/geolab/cert.pem", "/etc/geolab/key.pem")
            )
            tls_file = "/etc/geolab/tls.cfg"
        (cfg_dir / "kamailio.cfg").write_text(
            render_config(self.spec, Path("/run/geolab"), tls_file=tls_file)
        )
        await self.project.ensure_up()
        container = self.project.container(self.name)
        await asyncio.to_thread(container.reload)
        if container.status == "paused":
            await asyncio.to_thread(container.unpause)
        elif container.status != "running":
            await asyncio.to_thread(container.start)
        try:
            await self.wait_ready(timeout=15.0)
        except TimeoutError:
            logs = (await asyncio.to_thread(container.logs, tail=30)).decode(errors="replace")
            raise SiteStartError(
                f"site {self.name!r} (container {container.name}) did not answer "
                f"OPTIONS on {self.spec.ip}:{self.spec.port}",
                log=logs,
            ) from None

    async def _do(self, action: str, **kw: Any) -> None:
        container = self.project.container(self.name)
        with contextlib.suppress(docker.errors.APIError):
            await asyncio.to_thread(getattr(container, action), **kw)

    async def _terminate(self) -> None:
        await self._do("unpause")
        await self._do("stop", timeout=1)

    async def _kill(self) -> None:
        await self._do("kill")

    async def _hang(self) -> None:
        await self._do("pause")

    async def _resume(self) -> None:
        await self._do("unpause")

    async def disconnect(self) -> None:
        """Take the container off the sites network (a partition the engine makes)."""
        net = self.project.network()
        await asyncio.to_thread(net.disconnect, self.project.container(self.name), force=True)

    async def connect(self) -> None:
        net = self.project.network()
        await asyncio.to_thread(
            net.connect, self.project.container(self.name), ipv4_address=self.spec.ip
        )

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(Exception):
            return str(self.project.container(self.name).logs(tail=lines).decode(errors="replace"))
        return ""


async def remove_containers(containers: list[str], projects: list[str]) -> list[str]:
    """Force-remove the named containers and every container of the compose projects."""

    def work() -> list[str]:
        done: list[str] = []
        try:
            client = docker_client()
        except Exception as exc:  # no engine: nothing can be running there
            reason = exc.__class__.__name__
            return [f"docker engine not reachable ({reason}); containers left alone"]
        for name in containers:
            with contextlib.suppress(Exception):
                client.containers.get(name).remove(force=True)
                done.append(f"removed container {name}")
        for project in projects:
            label = {"label": f"com.docker.compose.project={project}"}
            for container in client.containers.list(all=True, filters=label):
                with contextlib.suppress(Exception):
                    container.remove(force=True)
                    done.append(f"removed container {container.name}")
            for network in client.networks.list(filters=label):
                with contextlib.suppress(Exception):
                    network.remove()
                    done.append(f"removed network {network.name}")
        return done

    return await asyncio.to_thread(work)
