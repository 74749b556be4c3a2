"""``jssip``, ``sipjs`` and ``page``: browser softphones — JsSIP, SIP.js or a page of
one's own in Debian's headless Chromium, one user agent per connection in one page,
driven over the DevTools protocol (:mod:`lab.drivers.cdp`).

The page (``pages/page.html`` loading the bundle ``./run setup`` builds from the npm packages
pinned in ``pages/package-lock.json``) implements the page contract of docs/endpoint-protocol.md
("A page of your own"): the driver calls ``geolab.add / enable / disable / remove / dial /
answer / hold / resume / hangup`` with ``Runtime.evaluate`` and the page pushes its events
through a binding (``Runtime.bindingCalled``), stamped with the lab's clock as they arrive.
The driver only translates. Chromium runs in a session of its own with a profile folder
under the drill's workdir, on 127.0.0.1 only, with no STUN server and no network service of
its own; its whole process tree and its profile go with the drill."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from endpoint.config import ConnectionConfig, EndpointConfig
from lab.drivers.base import DriverContext
from lab.drivers.capabilities import COMMANDS, Capabilities
from lab.drivers.cdp import CdpClient
from lab.drivers.kit import EndpointProcess
from lab.drivers.registry import driver
from lab.errors import LabError
from lab.stream.events import phone_event

HERE = Path(__file__).parent / "pages"
PAGE = HERE / "page.html"
READY_TIMEOUT = 20.0  # s for Chromium's DevTools and the page's PageReady
REPLY_TIMEOUT = 5.0  # s for a contract call
FLAGS = (
    "--headless=new", "--no-sandbox", "--remote-debugging-port=0",
    "--remote-debugging-address=127.0.0.1", "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream", "--allow-loopback-in-peer-connection",
    "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-default-apps",
    "--no-proxy-server", "--mute-audio", "--disable-gpu", "--disable-dev-shm-usage",
    "--allow-file-access-from-files", "--webrtc-ip-handling-policy=default_public_interface_only",
)  # fmt: skip
NO_CALLS = ("the lab's parties answer with plain RTP and a browser needs ICE and DTLS-SRTP; "
            "the lab has no media relay yet")  # fmt: skip


def trusting_home(home: Path, cas: list[str]) -> Path:
    """A HOME of Chromium's own whose NSS database trusts ``cas`` (the lab's CA, for wss):
    Chromium on Linux takes its trust from ``$HOME/.pki/nssdb``, not from its profile."""
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not cas:
        return home
    if shutil.which("certutil") is None:
        raise LabError("wss in Chromium needs certutil to trust the lab's CA "
                       "(apt-get install -y libnss3-tools)")  # fmt: skip
    db = f"sql:{nssdb}"
    steps = [["certutil", "-N", "-d", db, "--empty-password"]]
    steps += [["certutil", "-A", "-d", db, "-n", f"geolab-ca-{i}", "-t", "C,,", "-i", ca]
              for i, ca in enumerate(cas)]  # fmt: skip
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, timeout=30, check=False)
        if done.returncode != 0:
            raise LabError(f"certutil could not make Chromium trust the lab's CA: "
                           f"{done.stderr.strip() or done.stdout.strip()}")  # fmt: skip
    return home


def bundle(library: str) -> Path:
    return HERE / "dist" / f"{library}.js"


class PageDriver(EndpointProcess):
    """A SIP library in a Chromium page; ``library`` names its bundle and reference page."""

    library = ""
    default_command = ("chromium",)

    def __init__(self, command: list[str] | None = None) -> None:
        super().__init__(command)
        self.cdp: CdpClient | None = None
        self.profile: Path | None = None
        self.page_url = ""
        self.said_last: list[str] = []
        self.latencies: list[float] = []  # s from the page's event to the lab's stamp
        self.ready_after: float | None = None  # s from Chromium's start to PageReady

    @property
    def local_address(self) -> tuple[str, int] | None:
        return None  # a browser's WebSockets come from ports of its own choosing

    async def start(self, config: EndpointConfig, ctx: DriverContext) -> None:
        self.ctx = ctx
        page = ctx.page
        if page is None and not self.library:
            raise LabError(f"{self._what()}: no page to load (--endpoint-page FILE, or "
                           "endpoint: {page: FILE} in the drill)")  # fmt: skip
        if page is None and not bundle(self.library).exists():
            raise LabError(f"{self._what()}: {bundle(self.library)} is not built "
                           "(./run setup bundles the npm packages)")  # fmt: skip
        if page is not None and not page.is_file():
            raise LabError(f"{self._what()}: the page {page} does not exist")
        folder = ctx.workdir / "endpoint"
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.profile = folder / "chromium-profile"
        self.log_path = folder / "chromium.log"
        self.page_url = (page.resolve().as_uri() if page is not None
                         else f"{PAGE.as_uri()}?lib={self.library}")  # fmt: skip
        cas = sorted({str(c.tls_ca) for c in config.connections if c.tls_ca})
        home = await asyncio.to_thread(trusting_home, folder / "home", cas)
        started = time.monotonic()
        await self.spawn(*FLAGS, f"--user-data-dir={self.profile}", "about:blank",
                         stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
                         stderr=asyncio.subprocess.PIPE,
                         env={**os.environ, "HOME": str(home)})  # fmt: skip
        self.tasks.append(asyncio.create_task(self._stderr()))
        devtools = await self.until_ready(READY_TIMEOUT, "did not open DevTools")
        self.ready = asyncio.get_running_loop().create_future()
        await self._open_page(str(devtools))
        await self.until_ready(READY_TIMEOUT, f"did not load {self.page_url}")
        self.ready_after = time.monotonic() - started
        for cfg in config.connections:
            await self.add_connection(cfg)

    async def _stderr(self) -> None:
        """Chromium's log into its file; its DevTools address once it says it."""
        assert self.proc is not None and self.proc.stderr is not None and self.log_path
        with self.log_path.open("ab") as log:
            while raw := await self.proc.stderr.readline():
                log.write(raw)
                log.flush()
                line = raw.decode("utf-8", "replace").strip()
                if line.startswith("DevTools listening on ") and self.ready is not None \
                        and not self.ready.done():  # fmt: skip
                    self.ready.set_result(line.removeprefix("DevTools listening on "))
        self.ended(await self.proc.wait())

    async def _open_page(self, browser_ws: str) -> None:
        host_port = browser_ws.split("/")[2]
        host, _, port = host_port.rpartition(":")
        targets = await _http_json(host, int(port), "/json/list")
        page = next((t for t in targets if t.get("type") == "page"), None)
        if page is None:
            raise LabError(f"{self._what()}: Chromium has no page to drive")
        self.cdp = CdpClient(self._on_cdp)
        await self.cdp.connect(str(page["webSocketDebuggerUrl"]))
        self.tasks.append(asyncio.create_task(self._watch_devtools(self.cdp)))
        await self.cdp.call("Runtime.enable")
        await self.cdp.call("Page.enable")
        await self.cdp.call("Runtime.addBinding", name="geolabReport")
        await self.cdp.call("Page.navigate", url=self.page_url)

    async def _watch_devtools(self, cdp: CdpClient) -> None:
        await cdp.lost.wait()
        if not self.stopping:
            self.fail(f"lost: {cdp.why}")

    def _on_cdp(self, method: str, params: dict[str, Any]) -> None:
        if method == "Runtime.bindingCalled" and params.get("name") == "geolabReport":
            arrived = time.monotonic()
            try:
                event = json.loads(str(params.get("payload", "")))
            except ValueError:
                self.fail(f"page reported something that is not JSON: {params.get('payload')!r}")
                return
            if isinstance(event, dict):
                self._on_page(event, arrived)
        elif method == "Inspector.targetCrashed":
            self.fail("page crashed")
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            text = details.get("exception", {}).get("description") or details.get("text")
            self.said_last = [f"page threw: {text}"]
            if self.ready is not None and not self.ready.done():  # while loading: broken
                self.fail(f"page threw while loading: {text}")

    def _on_page(self, event: dict[str, Any], arrived: float) -> None:
        kind = event.get("event")
        wall = event.get("wall")  # the page's wall clock (ms), where it gives it
        if isinstance(wall, (int, float)) and not isinstance(wall, bool):
            self.latencies.append(time.time() - wall / 1000)
        if kind == "PageReady" and self.ready is not None and not self.ready.done():
            self.ready.set_result(event)
        elif kind == "PageError":
            self.fail(f"page failed: {event.get('message')}")
        elif kind in ("ConnectionStatusChanged", "SessionStatusChanged") and self.ctx:
            try:
                self.ctx.on_event(phone_event(str(kind), event, arrived))
            except (KeyError, TypeError, ValueError) as exc:
                self.fail(f"page reported an event that does not fit the protocol ({exc}): "
                          f"{event}")  # fmt: skip

    def said(self) -> str:
        return f"; {self.said_last[-1]}" if self.said_last else ""

    # --- the page contract ----------------------------------------------------------------
    async def _call(self, function: str, *args: Any) -> Any:
        if self.cdp is None:
            raise LabError(f"{self._what()} is not running")
        expression = f"geolab.{function}({', '.join(json.dumps(a) for a in args)})"
        result = await self.cdp.call("Runtime.evaluate", timeout=REPLY_TIMEOUT,
                                     expression=expression, returnByValue=True,
                                     awaitPromise=True)  # fmt: skip
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise ValueError(details.get("exception", {}).get("description")
                             or details.get("text") or "the page refused")  # fmt: skip
        return result.get("result", {}).get("value")

    async def dial(self, connection: int, destination: str, /) -> str:
        return str(await self._call("dial", connection, destination))

    async def answer(self, session: str, /) -> None:
        await self._call("answer", session)

    async def hangup(self, session: str, /) -> None:
        await self._call("hangup", session)

    async def hold(self, session: str, /) -> None:
        await self._call("hold", session)

    async def resume(self, session: str, /) -> None:
        await self._call("resume", session)

    async def add_connection(self, config: ConnectionConfig, /) -> None:
        scheme = "wss" if config.protocol == "wss" else "ws"
        await self._call("add", {
            "id": config.id, "user": config.user, "domain": config.aor_domain,
            "ws_url": f"{scheme}://{config.server}:{config.port}/",
            "password": config.password, "auth_user": config.auth_user,
            "reg_interval": config.reg_interval, "retry_interval": config.retry_interval,
            "enabled": config.enabled,
        })  # fmt: skip

    async def enable_connection(self, connection: int, /) -> None:
        await self._call("enable", connection)

    async def disable_connection(self, connection: int, /) -> None:
        await self._call("disable", connection)

    async def remove_connection(self, connection: int, /) -> None:
        await self._call("remove", connection)

    # --- stopping -------------------------------------------------------------------------
    async def ask_to_stop(self) -> str | None:
        """The page's UAs stopped (they unregister); then Chromium is ended with its group."""
        if self.cdp is not None and not self.cdp.lost.is_set():
            with contextlib.suppress(LabError, ValueError):
                await self._call("stop")
            await self.cdp.close()
        return None

    async def stop(self) -> str | None:
        problem = await super().stop()
        if self.profile is not None:  # its profile and its HOME (the CA it trusted)
            await asyncio.to_thread(shutil.rmtree, self.profile, True)
            await asyncio.to_thread(shutil.rmtree, self.profile.parent / "home", True)
        return problem


async def _http_json(host: str, port: int, path: str) -> list[dict[str, Any]]:
    """GET ``path`` from DevTools' HTTP side (one request; the body read by its length: the
    server keeps the connection open)."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 5.0)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n"
                     .encode())  # fmt: skip
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5.0)
        length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), None)  # fmt: skip
        if length is None:
            raise LabError(f"DevTools answered {path} without a length")
        body = await asyncio.wait_for(reader.readexactly(length), 5.0)
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
        raise LabError(f"DevTools answered {path} in a way it never does: {exc}") from None
    finally:
        writer.close()
    try:
        data = json.loads(body)
    except ValueError:
        raise LabError(f"DevTools answered {path} with no JSON") from None
    return data if isinstance(data, list) else []


BROWSER = Capabilities(commands=COMMANDS, keepalives=frozenset(), backoffs=frozenset({"fixed"}),
                       transports=frozenset({"ws", "wss"}), calls=NO_CALLS, pages=True,
                       dns="the browser drivers do not map the lab's names to its sites "
                           "(Chromium's host resolver rules) yet")  # fmt: skip


@driver("jssip", BROWSER, "JsSIP 3.13 in Debian's headless Chromium (--endpoint-page: a page "
        "of your own instead; --endpoint-command: another Chromium)")  # fmt: skip
class JssipDriver(PageDriver):
    library = "jssip"


@driver("sipjs", dataclasses.replace(BROWSER, commands=COMMANDS - {"hold", "resume"}),
        "SIP.js 0.21 in Debian's headless Chromium (--endpoint-command: another Chromium)")
class SipjsDriver(PageDriver):
    library = "sipjs"


@driver("page", BROWSER, "a page of your own implementing the page contract, in Debian's "
        "headless Chromium (--endpoint-page FILE)")  # fmt: skip
class OwnPageDriver(PageDriver):
    library = ""
