"""Each drill's SIP as the fault proxy saw it goes to ``<drill>.pcap`` beside the report,
readable by tcpdump, with the real loopback addresses; the HTML report links it."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from lab.cli.main import main

pytestmark = pytest.mark.interop
DRILL = Path(__file__).parents[2] / "scenarios" / "second-line-rings.yaml"


def records(path: Path) -> int:
    data = path.read_bytes()
    assert struct.unpack("!I", data[:4])[0] == 0xA1B2C3D4
    count, at = 0, 24
    while at < len(data):
        incl = struct.unpack("!I", data[at + 8 : at + 12])[0]
        at += 16 + incl
        count += 1
    assert at == len(data)
    return count


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_a_drill_writes_a_capture_tcpdump_reads(tmp_path: Path, transport: str) -> None:
    if shutil.which("tcpdump") is None:
        pytest.skip("tcpdump is not installed (apt-get install -y tcpdump)")
    drill = tmp_path / "drill.yaml"
    drill.write_text(
        DRILL.read_text().replace("name: ", f"topology: {{transport: {transport}}}\nname: ", 1)
    )
    code = main(["run", str(drill), "--backend", "embedded", "-q",
                 "--report-dir", str(tmp_path / "r")])  # fmt: skip
    (pcap,) = (tmp_path / "r").glob("*/drill.pcap")
    assert code == 0, (pcap.parent / "summary.md").read_text()  # what failed, if it did
    read = subprocess.run(["tcpdump", "-r", str(pcap), "-n", "-q" if transport == "tcp" else "-v"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    lines = [x for x in read.stdout.splitlines() if re.match(r"\d\d:\d\d:\d\d\.\d+ IP", x)]
    assert len(lines) == records(pcap) > 10
    hosts = re.findall(r"(\d+\.\d+\.\d+\.\d+)\.\d+ > (\d+\.\d+\.\d+\.\d+)\.\d+", read.stdout)
    assert hosts and all(a.startswith("127.") and b.startswith("127.") for a, b in hosts)
    if transport == "udp":
        text = read.stdout
        assert "REGISTER sip:" in text and "INVITE sip:" in text and "SIP/2.0 200 OK" in text
    else:
        assert any(" tcp " in line for line in lines)  # the endpoint over TCP (parties: UDP)
    html = (pcap.parent / "report.html").read_text()
    assert 'class="pcap" href="drill.pcap"' in html
