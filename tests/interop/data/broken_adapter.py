"""A deliberately broken JSON-lines adapter, for ``geolab adapter check``'s tests: it runs
geolab's endpoint (``python -m endpoint``) and relays its lines, with five defects:

1. it prints a banner on stdout that is not JSON;
2. it says every ConnectionStatusChanged twice;
3. it swallows the endpoint's Error events (bad input gets no answer);
4. it never passes ``hold`` on (the call is never held);
5. at ``quit`` it drops the endpoint's Stopped.

``BROKEN=banner,twice,errors,hold,stopped`` picks some of them (default: all five)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

BROKEN = set(os.environ.get("BROKEN", "banner,twice,errors,hold,stopped").split(","))


def main() -> int:
    child = subprocess.Popen([sys.executable, "-m", "endpoint", *sys.argv[1:]],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)  # fmt: skip
    assert child.stdin is not None and child.stdout is not None
    if "banner" in BROKEN:  # defect 1
        print("broken adapter 0.1 starting", flush=True)

    def relay_out() -> None:
        assert child.stdout is not None
        for raw in child.stdout:
            try:
                event = json.loads(raw)
            except ValueError:
                event = {}
            kind = event.get("event") if isinstance(event, dict) else None
            if (kind == "Error" and "errors" in BROKEN) or (kind == "Stopped" and "stopped" in BROKEN):
                continue  # defects 3 and 5
            sys.stdout.write(raw.decode())
            if kind == "ConnectionStatusChanged" and "twice" in BROKEN:  # defect 2
                sys.stdout.write(raw.decode())
            sys.stdout.flush()
        os._exit(child.wait())  # the endpoint ended (quit, end of input): so does the relay

    out = threading.Thread(target=relay_out)
    out.start()
    for line in sys.stdin.buffer:
        if b'"hold"' in line and "hold" in BROKEN:  # defect 4
            continue
        child.stdin.write(line)
        child.stdin.flush()
    child.stdin.close()
    code = child.wait()
    out.join()
    return code


if __name__ == "__main__":
    sys.exit(main())
