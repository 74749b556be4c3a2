"""What every site backend offers: a named SIP registrar + proxy that can be hurt."""

from __future__ import annotations

import abc
import enum
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType

from lab.errors import LabError
from lab.sites.probe import wait_until_answering
from lab.system.certs import SiteCertificate

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,31}")  # it names folders, proxies, containers
_SECRET = re.compile(r"[\x20-\x7e]{1,128}")


@dataclass(frozen=True, slots=True, kw_only=True)
class SiteSpec:
    """How to build a site. ``peers`` maps another site's domain to its address, so a
    request for a user of that domain is forwarded there ("call via site B")."""

    name: str
    ip: str
    port: int = 5060
    domain: str = ""
    password: str | None = None  # digest auth for REGISTER when set
    peers: dict[str, tuple[str, int]] = field(default_factory=dict)
    # addresses that are this site's too: its fault proxy's, which an endpoint's Route
    # header names when the proxy is its outbound proxy (else the site would route the
    # request back through the proxy until Max-Forwards runs out)
    aliases: tuple[tuple[str, int], ...] = ()
    # TLS next to UDP and TCP: on this port, presenting this certificate (None: no TLS)
    tls_port: int | None = None
    certificate: SiteCertificate | None = None
    # SIP over WebSocket (RFC 7118): ws on this port (None: none), wss too given a certificate
    ws_port: int | None = None
    wss_port: int | None = None
    fr_timer: float = 4.0  # Kamailio tm: non-INVITE / no-response timeout
    fr_inv_timer: float = 60.0  # Kamailio tm: INVITE ringing timeout

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise LabError(
                f"site name {self.name!r}: a letter, then letters, digits, - or _ (32 at most)"
            )
        if self.password is not None and not _SECRET.fullmatch(self.password):
            raise LabError("the digest password must be 1 to 128 printable characters")
        if not self.domain:
            object.__setattr__(self, "domain", f"{self.name}.geolab.test")


class SiteState(enum.StrEnum):
    DOWN = "down"
    UP = "up"
    HUNG = "hung"


class Site(abc.ABC):
    """A site. Subclasses implement the underscore operations."""

    backend = "abstract"

    def __init__(self, spec: SiteSpec) -> None:
        self.spec = spec
        self.state = SiteState.DOWN
        self.probe_source = "127.0.0.1"  # where readiness probes are sent from
        self.on_pid: Callable[[str, int | None], None] | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def address(self) -> tuple[str, int]:
        return (self.spec.ip, self.spec.port)

    @property
    def tls_address(self) -> tuple[str, int] | None:
        port = self.spec.tls_port
        return (self.spec.ip, port) if port is not None else None

    def address_for(self, transport: str) -> tuple[str, int] | None:
        """Where the site takes ``transport`` (None: it does not here)."""
        port = {"tls": self.spec.tls_port, "ws": self.spec.ws_port,
                "wss": self.spec.wss_port if self.spec.certificate else None}.get(
            transport, self.spec.port)  # fmt: skip
        return (self.spec.ip, port) if port is not None else None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.spec.ip}:{self.spec.port} {self.state}>"

    # --- operations ---------------------------------------------------------------------
    async def start(self) -> None:
        await self._launch()
        self.state = SiteState.UP

    async def stop(self) -> None:
        """Graceful stop."""
        await self._terminate()
        self.state = SiteState.DOWN

    async def kill(self) -> None:
        """Sudden death: SIGKILL (or container kill). Registrations are lost."""
        await self._kill()
        self.state = SiteState.DOWN

    async def hang(self) -> None:
        """Up but silent: SIGSTOP (or container pause)."""
        await self._hang()
        self.state = SiteState.HUNG

    async def resume(self) -> None:
        await self._resume()
        self.state = SiteState.UP

    async def restart(self) -> None:
        if self.state is not SiteState.DOWN:
            await self._terminate()
        await self.start()

    async def wait_ready(self, timeout: float = 10.0) -> float:
        return await wait_until_answering(
            self.spec.ip, self.spec.port, timeout=timeout, source=self.probe_source
        )

    def log_tail(self, lines: int = 30) -> str:
        return ""

    def record_pid(self, pid: int) -> None:
        if self.on_pid is not None:
            self.on_pid(self.name, pid)

    def forget_pid(self) -> None:
        if self.on_pid is not None:
            self.on_pid(self.name, None)

    async def __aenter__(self) -> Site:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @abc.abstractmethod
    async def _launch(self) -> None: ...

    @abc.abstractmethod
    async def _terminate(self) -> None: ...

    @abc.abstractmethod
    async def _kill(self) -> None: ...

    @abc.abstractmethod
    async def _hang(self) -> None: ...

    @abc.abstractmethod
    async def _resume(self) -> None: ...
