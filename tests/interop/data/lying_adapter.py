"""A JSON-lines adapter that lies: it says Ready, then says every connection of its config
is Available without sending a single REGISTER. The lab must not believe it."""

from __future__ import annotations

import json
import sys
import time
import xml.etree.ElementTree as ET


def say(event: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def main() -> int:
    config = sys.argv[sys.argv.index("--config") + 1]
    conns = len(ET.parse(config).getroot().findall(".//Connectivity"))
    say({"event": "Ready", "local": "127.0.0.1:5999"})
    for n in range(conns):
        say({"event": "ConnectionStatusChanged", "connection": n, "status": "Available",
             "previous": "Registering", "reason": "registered", "code": 200,
             "t": time.monotonic()})  # fmt: skip
    for line in sys.stdin:
        cmd = json.loads(line).get("cmd")
        if cmd == "connections":
            say({"event": "Connections", "connections": []})
        elif cmd == "quit":
            say({"event": "Stopped"})
            return 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
