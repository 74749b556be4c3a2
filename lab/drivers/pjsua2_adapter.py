"""``python -m lab.drivers.pjsua2_adapter --config SipEndpoint.config``: PJSIP (PyPI's
``pjsua2-python``) behind the JSON-lines endpoint protocol (docs/endpoint-protocol.md), a
process of its own (PJSIP is GPL: it is never imported into geolab's process).

The adapter only translates. One PJSIP account per connection, its registrar the
connection's site (through the site's target as outbound proxy); the drill's settings as
PJSIP takes them: ``reg_interval`` as the refresh period (Expires = it + the 5 s PJSIP
refreshes before expiry), ``retry_interval`` as its first and later retry intervals with
no random spread. What PJSIP cannot be given is left to PJSIP's own behaviour and said in
the driver's notes: its transaction timers (32 s), a keep-alive, a server name per
connection. Status events are PJSIP's registration results, one per change; nothing is
re-registered, retried or failed over here.

PJSIP runs without a worker thread (``threadCnt = 0``): its timers, retransmissions and
callbacks all run inside ``libHandleEvents`` on the main thread, which also executes the
commands a reader thread queues. pjlib prints to stdout before its log settings apply, so
the protocol keeps a private copy of stdout and fd 1 is pointed at stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import queue
import signal
import sys
import threading
import time
from typing import Any, TextIO

from endpoint.config import ConfigError, ConnectionConfig, EndpointConfig, split_server
from endpoint.configfile import load
from endpoint.jsonlines import _int, _no_constant, _str  # the protocol's own checks
from lab.drivers.pjsua2_objects import Account, Call, pj

MAX_LINE = 64 * 1024
POLL_MS = 10
REFRESH_BEFORE = 5  # s: PJSIP refreshes a registration this long before it expires
GRACE = 2.0  # s for the unregistrations at quit


class Adapter:
    def __init__(self, config: EndpointConfig, out: TextIO) -> None:
        self.config = config
        self.out = out
        self.done = False
        self.ep: Any = None
        self.transports: dict[str, int] = {}
        self.local = ("127.0.0.1", 0)
        self.accounts: dict[int, Account] = {}
        self.settings: dict[int, ConnectionConfig] = {}
        self.status: dict[int, str] = {}
        self.last: dict[int, tuple[float | None, str | None]] = {}  # last 2xx time, error
        self.calls: dict[str, Call] = {}
        self.ended: list[Any] = []  # calls, accounts: referenced until PJSIP is done with them
        self.next_session = 0

    # --- output ---------------------------------------------------------------------------
    def write(self, payload: dict[str, Any]) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.out.write(json.dumps(payload, separators=(",", ":")) + "\n")
            self.out.flush()

    def error(self, message: str, line: str = "") -> None:
        self.write({"event": "Error", "message": message, "input": line[:200]})

    def connection_status(self, cid: int, status: str, reason: str = "",
                          code: int | None = None) -> None:  # fmt: skip
        previous = self.status.get(cid)
        if previous == status:
            return  # one event per change
        self.status[cid] = status
        self.write({"event": "ConnectionStatusChanged", "connection": cid, "status": status,
                    "previous": previous, "reason": reason, "code": code,
                    "t": time.monotonic()})  # fmt: skip

    # --- PJSIP ----------------------------------------------------------------------------
    def start(self) -> None:
        ep = self.ep = pj.Endpoint()
        ep.libCreate()
        cfg = pj.EpConfig()
        cfg.uaConfig.threadCnt = 0
        cfg.uaConfig.mainThreadOnly = True
        cfg.uaConfig.userAgent = "geolab-pjsua2-adapter"
        cfg.logConfig.level = 3
        cfg.logConfig.consoleLevel = 3
        cfg.medConfig.noVad = True
        ep.libInit(cfg)
        host, port = self.config.local_host, self.config.local_port
        for name, kind in (("udp", pj.PJSIP_TRANSPORT_UDP), ("tcp", pj.PJSIP_TRANSPORT_TCP)):
            tcfg = pj.TransportConfig()
            tcfg.boundAddress = host
            tcfg.publicAddress = host
            tcfg.port = port if name == "udp" else 0
            self.transports[name] = ep.transportCreate(kind, tcfg)
        cas = {c.tls_ca for c in self.config.connections if c.protocol == "tls" and c.tls_ca}
        tcfg = pj.TransportConfig()
        tcfg.boundAddress = host
        tcfg.publicAddress = host
        tcfg.port = 0
        if cas:  # one TLS transport for the process: one CA bundle (the lab has one)
            tcfg.tlsConfig.CaListFile = sorted(cas)[0]
            tcfg.tlsConfig.verifyServer = True
        tcfg.tlsConfig.method = pj.PJSIP_TLSV1_2_METHOD
        with contextlib.suppress(Exception):  # a build without TLS: TLS connections fail
            self.transports["tls"] = ep.transportCreate(pj.PJSIP_TRANSPORT_TLS, tcfg)
        ep.libStart()
        ep.audDevManager().setNullDev()
        info = ep.transportGetInfo(self.transports["udp"])
        h, _, p = str(info.localName).rpartition(":")
        self.local = (h or host, int(p) if p.isdigit() else 0)

    def add(self, cfg: ConnectionConfig) -> None:
        if cfg.id in self.accounts:
            raise ValueError(f"connection {cfg.id} exists already")
        if cfg.protocol not in self.transports:
            raise ValueError(f"PJSIP here does not speak {cfg.protocol.upper()}")
        acfg = pj.AccountConfig()
        acfg.idUri = f"sip:{cfg.user}@{cfg.aor_domain}"
        transport = f";transport={cfg.protocol}" if cfg.protocol != "udp" else ""
        acfg.regConfig.registrarUri = f"sip:{cfg.aor_domain}"
        acfg.sipConfig.proxies.append(f"sip:{cfg.server}:{cfg.port};lr{transport}")
        acfg.sipConfig.transportId = self.transports[cfg.protocol]
        acfg.regConfig.timeoutSec = math.ceil(cfg.reg_interval) + REFRESH_BEFORE
        acfg.regConfig.delayBeforeRefreshSec = REFRESH_BEFORE
        acfg.regConfig.retryIntervalSec = max(1, math.ceil(cfg.retry_interval))
        acfg.regConfig.firstRetryIntervalSec = max(1, math.ceil(cfg.retry_interval))
        acfg.regConfig.randomRetryIntervalSec = 0
        acfg.regConfig.registerOnAdd = cfg.enabled
        acfg.natConfig.iceEnabled = False
        acfg.natConfig.sipOutboundUse = 0
        acfg.mediaConfig.transportConfig.boundAddress = self.local[0]
        if cfg.password is not None:
            acfg.sipConfig.authCreds.append(
                pj.AuthCredInfo("digest", "*", cfg.auth_user or cfg.user, 0, cfg.password)
            )
        self.settings[cfg.id] = cfg
        self.last[cfg.id] = (None, None)
        self.connection_status(cfg.id, "Registering" if cfg.enabled else "Disabled")
        account = Account(self, cfg.id)
        self.accounts[cfg.id] = account
        account.create(acfg)

    def set_enabled(self, cid: int, enabled: bool) -> None:
        account = self.account(cid)
        if enabled == (self.status.get(cid) != "Disabled"):
            return
        if enabled:
            self.connection_status(cid, "Registering")
            account.setRegistration(True)
        else:
            with contextlib.suppress(Exception):  # nothing registered: nothing to undo
                account.setRegistration(False)
            self.connection_status(cid, "Disabled")

    def remove(self, cid: int) -> None:
        account = self.account(cid)
        with contextlib.suppress(Exception):
            account.shutdown()
        del self.accounts[cid]
        self.ended.append(account)
        self.connection_status(cid, "Removed")

    def account(self, cid: int) -> Account:
        try:
            return self.accounts[cid]
        except KeyError:
            raise ValueError(f"no connection {cid}") from None

    def registered(self, cid: int, code: int, reason: str, expires: int) -> None:
        """PJSIP's word on a REGISTER (its refreshes too): the status it means."""
        if cid not in self.accounts or self.status.get(cid) == "Disabled":
            return
        if 200 <= code < 300 and expires > 0:
            self.last[cid] = (time.monotonic(), None)
            self.connection_status(cid, "Available", reason, code)
        elif code >= 300 or code == 0:
            self.last[cid] = (self.last[cid][0], f"{code} {reason}")
            self.connection_status(cid, "Unavailable", reason, code or None)

    # --- calls ----------------------------------------------------------------------------
    def session_id(self) -> str:
        self.next_session += 1
        return f"s{self.next_session}"

    def dial(self, cid: int, destination: str) -> str:
        account = self.account(cid)
        cfg = self.settings[cid]
        if any(ch.isspace() for ch in destination):
            raise ValueError("a destination is SIP syntax: no white space")
        uri = destination if destination.startswith(("sip:", "sips:")) else (
            f"sip:{destination}@{cfg.aor_domain}")  # fmt: skip
        call = Call(self, account, cid, self.session_id(), "outbound", uri)
        self.calls[call.sid] = call
        call.status("Dialing", "dial")
        prm = pj.CallOpParam(True)
        call.makeCall(uri, prm)
        return call.sid

    def call(self, sid: str) -> Call:
        try:
            return self.calls[sid]
        except KeyError:
            raise ValueError(f"no session {sid}") from None

    def incoming(self, account: Account, call_id: int) -> None:
        call = Call(self, account, account.cid, self.session_id(), "inbound", "", call_id)
        self.calls[call.sid] = call
        info = call.getInfo()
        call.remote = str(info.remoteUri)
        call.status("Ringing", "incoming")
        prm = pj.CallOpParam()
        prm.statusCode = 180
        call.answer(prm)

    def finished(self, call: Call) -> None:
        self.calls.pop(call.sid, None)
        self.ended.append(call)

    # --- commands -------------------------------------------------------------------------
    def handle(self, line: str) -> None:
        line = line.strip()
        if not line:
            return
        try:
            cmd = json.loads(line, parse_constant=_no_constant)
            self.execute(cmd)
        except json.JSONDecodeError as exc:
            self.error(f"not JSON: {exc.msg}", line)
        except RecursionError:
            self.error("not a command: nested too deep", line)
        except ConfigError as exc:
            self.error(str(exc), line)
        except (LookupError, ValueError, TypeError) as exc:
            self.error(f"refused: {exc}", line)
        except Exception as exc:  # what PJSIP raises (pj.Error): refused, the process goes on
            said = exc.info() if hasattr(exc, "info") else str(exc)
            self.error(f"PJSIP refused: {said}", line)

    def execute(self, cmd: object) -> None:
        if not isinstance(cmd, dict):
            raise TypeError("a command is a JSON object")
        name = cmd.get("cmd")
        if name == "dial":
            sid = self.dial(_int(cmd, "connection"), _str(cmd, "destination"))
            self.write({"event": "Dialed", "session": sid, "connection": cmd["connection"]})
        elif name == "answer":
            prm = pj.CallOpParam()
            prm.statusCode = 200
            self.call(_str(cmd, "session")).answer(prm)
        elif name == "hangup":
            call = self.call(_str(cmd, "session"))
            call.local_hangup = True
            call.hangup(pj.CallOpParam())
        elif name == "hold":
            self.call(_str(cmd, "session")).setHold(pj.CallOpParam(True))
        elif name == "resume":
            prm = pj.CallOpParam(True)  # the call's settings (its audio), not zeros
            prm.opt.flag = pj.PJSUA_CALL_UNHOLD
            self.call(_str(cmd, "session")).reinvite(prm)
        elif name == "add_connection":
            fields = {k: v for k, v in cmd.items() if k not in ("cmd", "connection")}
            fields["id"] = _int(cmd, "connection")
            if isinstance(fields.get("server"), str) and "port" not in fields:
                host, port = split_server(fields["server"])
                fields["server"] = host
                if port is not None:
                    fields["port"] = port
            self.add(ConnectionConfig.model_validate(fields))
        elif name in ("enable_connection", "disable_connection"):
            self.set_enabled(_int(cmd, "connection"), name == "enable_connection")
        elif name == "remove_connection":
            self.remove(_int(cmd, "connection"))
        elif name == "connections":
            self.write({"event": "Connections", "connections": [
                {"id": cid, "user": c.user, "server": f"{c.server}:{c.port}",
                 "protocol": c.protocol.upper(), "reg_interval": c.reg_interval,
                 "status": self.status.get(cid), "last_registration": self.last[cid][0],
                 "last_error": self.last[cid][1]}
                for cid, c in self.settings.items() if cid in self.accounts
            ]})  # fmt: skip
        elif name == "quit":
            self.done = True
        else:
            raise ValueError(f"unknown command {name!r}")

    def stop(self) -> None:
        for account in self.accounts.values():
            with contextlib.suppress(Exception):
                account.setRegistration(False)
        end = time.monotonic() + GRACE
        while time.monotonic() < end and any(a.unregistering for a in self.accounts.values()):
            self.ep.libHandleEvents(POLL_MS)
        self.write({"event": "Stopped"})


def _reader(fd: int, lines: queue.Queue[bytes | None]) -> None:
    pending, skipping = b"", False
    try:
        while chunk := os.read(fd, 65536):
            pending += chunk
            while (end := pending.find(b"\n")) >= 0:
                line, pending = pending[: end + 1], pending[end + 1 :]
                if not skipping:
                    lines.put(line)
                skipping = False
            if len(pending) > MAX_LINE and not skipping:
                lines.put(pending[: MAX_LINE + 1])
                pending, skipping = b"", True
            elif skipping:
                pending = b""
        if pending and not skipping:
            lines.put(pending)
    except OSError:
        pass
    finally:
        lines.put(None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.drivers.pjsua2_adapter",
                                     description=__doc__.split("\n\n")[0])  # fmt: skip
    parser.add_argument("--config", required=True, help="SipEndpoint.config (XML) or YAML")
    args = parser.parse_args(argv)
    try:
        config = load(args.config)
    except ConfigError as exc:
        print(f"pjsua2 adapter: {exc}", file=sys.stderr)
        return 2
    if pj is None:
        print("pjsua2 adapter: PyPI's pjsua2-python is not installed "
              "(pip install pjsua2-python)", file=sys.stderr)  # fmt: skip
        return 3
    out = os.fdopen(os.dup(1), "w")  # the protocol's; pjlib's own prints go to stderr
    os.dup2(2, 1)
    adapter = Adapter(config, out)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    adapter.start()
    adapter.write({"event": "Ready", "local": "{}:{}".format(*adapter.local)})
    for cfg in config.connections:
        adapter.add(cfg)
    lines: queue.Queue[bytes | None] = queue.Queue()
    threading.Thread(target=_reader, args=(sys.stdin.fileno(), lines), daemon=True).start()
    while not adapter.done and not stop.is_set():
        adapter.ep.libHandleEvents(POLL_MS)
        while not adapter.done:
            try:
                raw = lines.get_nowait()
            except queue.Empty:
                break
            if raw is None:
                adapter.done = True
            elif len(raw) > MAX_LINE:
                adapter.error(f"a command of over {MAX_LINE} bytes (skipped)")
            else:
                adapter.handle(raw.decode("utf-8", "replace"))
    adapter.stop()
    out.flush()
    os._exit(0)  # PJSIP's own teardown is not needed by a process that ends here


if __name__ == "__main__":
    sys.exit(main())
