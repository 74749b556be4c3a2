"""Browser softphones: JsSIP and SIP.js in Debian's headless Chromium, graded by the drill
library on Kamailio (pinned in ``data/jssip-outcomes.yaml`` and ``data/sipjs-outcomes.yaml``),
including the defect the lab exists to
catch — a silent ws site that comes back is never registered on again. A page of one's own
runs the same way; a page that throws, a missing page, a missing browser, and a browser
killed mid-drill are lab errors naming the driver, and nothing of Chromium is left."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lab.cli.main import main
from lab.drivers.browser import bundle
from lab.sites.kamailio import kamailio_binary
from lab.system.procs import processes_mentioning

from .pinning import ROOT, assert_grade_is_pinned
from .test_drivers import killed_at_first_available

PAGES = Path(__file__).parent / "data" / "pages"
pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed"),
    pytest.mark.skipif(not bundle("jssip").exists(),
                       reason="the JsSIP bundle is not built (./run setup)"),
]  # fmt: skip


def test_jssip_s_grade_on_the_library_is_the_pinned_one(tmp_path: Path) -> None:
    if kamailio_binary() is None:
        pytest.skip("kamailio is not installed")
    folder = assert_grade_is_pinned("jssip", tmp_path)
    # the evidence: after the silent site answers again (its 200 to the stale REGISTER is
    # on the wire), JsSIP never says Available
    timeline = json.loads((folder / "timeline.json").read_text())
    (silent,) = [d for d in timeline["scenarios"]
                 if Path(d["source"]).stem == "site-silent-past-timeout-ws"]  # fmt: skip
    down = next(e["t"] for e in silent["events"] if e["kind"] == "endpoint"
                and e["data"].get("status") == "Unavailable")  # its refresh timed out  # fmt: skip
    answered = [e for e in silent["events"] if e["kind"] == "sip" and e["t"] > down
                and e["data"].get("connection") == 0 and e["data"].get("status") == 200]  # fmt: skip
    assert answered, "the silent site answers again (the stale REGISTER)"
    assert not [e for e in silent["events"] if e["kind"] == "endpoint" and e["t"] > down
                and e["data"].get("status") == "Available"]  # fmt: skip


def test_sipjs_s_grade_on_the_library_is_the_pinned_one(tmp_path: Path) -> None:
    if kamailio_binary() is None:
        pytest.skip("kamailio is not installed")
    if not bundle("sipjs").exists():
        pytest.skip("the SIP.js bundle is not built (./run setup)")
    assert_grade_is_pinned("sipjs", tmp_path)


def run(path: Path, tmp_path: Path, *extra: str) -> tuple[int, dict[str, object]]:
    out = tmp_path / "out"
    code = main(["run", str(path), "--backend", "embedded", "-q", "--report-dir", str(out),
                 *extra])  # fmt: skip
    (folder,) = out.iterdir()
    (drill,) = json.loads((folder / "timeline.json").read_text())["scenarios"]
    return code, drill


def test_a_page_of_one_s_own_is_graded_the_same_way(tmp_path: Path) -> None:
    """A user's page: here one that loads the JsSIP bundle from where it is built and
    implements the contract with it, as a team's own SDK page would."""
    page = tmp_path / "my-softphone.html"
    page.write_text('<!doctype html>\n<meta charset="utf-8">\n'
                    f'<script src="{bundle("jssip").as_uri()}"></script>\n')  # fmt: skip
    code, drill = run(ROOT / "scenarios" / "site-a-killed-ws.yaml", tmp_path,
                      "--driver", "page", "--endpoint-page", str(page))  # fmt: skip
    assert code == 0, drill["errors"]
    assert drill["driver"] == "page" and drill["passed"]
    assert processes_mentioning(str(tmp_path)) == []


def test_a_page_that_throws_while_loading_is_a_lab_error(tmp_path: Path) -> None:
    code, drill = run(ROOT / "scenarios" / "site-a-killed-ws.yaml", tmp_path,
                      "--driver", "page", "--endpoint-page", str(PAGES / "throws.html"))  # fmt: skip
    assert code == 3
    (error,) = drill["errors"]  # type: ignore[misc]
    assert "driver page" in error and "page threw while loading" in error, error
    assert "broken on purpose" in error
    assert processes_mentioning(str(tmp_path)) == []


def test_a_page_that_does_not_exist_and_a_browser_not_installed_are_lab_errors(
    tmp_path: Path,
) -> None:
    code, drill = run(ROOT / "scenarios" / "site-a-killed-ws.yaml", tmp_path / "1",
                      "--driver", "page", "--endpoint-page", str(tmp_path / "none.html"))  # fmt: skip
    assert code == 3 and "does not exist" in drill["errors"][0]  # type: ignore[index]
    code, drill = run(ROOT / "scenarios" / "site-a-killed-ws.yaml", tmp_path / "2",
                      "--driver", "jssip", "--endpoint-command", "no-such-chromium")  # fmt: skip
    assert code == 3 and "no-such-chromium" in drill["errors"][0]  # type: ignore[index]


def test_chromium_killed_mid_drill_is_a_lab_error_and_nothing_is_left(tmp_path: Path) -> None:
    result = killed_at_first_available(ROOT / "scenarios" / "site-a-killed-ws.yaml", "jssip",
                                       tmp_path / "lab")  # fmt: skip
    assert not result.passed
    (error,) = result.errors  # the DevTools connection goes with it, or its exit is seen first
    assert "driver jssip" in error and ("exited (code -9)" in error or "lost: " in error), error
    assert processes_mentioning(str(tmp_path / "lab")) == []
    assert not list((tmp_path / "lab").rglob("chromium-profile"))


WSS = """\
name: over wss, the lab's CA trusted and a certificate from an unknown CA refused
topology: {transport: wss, certificates: {a: wrong_ca}}
endpoint:
  connections:
    - {site: a, reg_interval: 10, retry_interval: 2}
    - {site: b, reg_interval: 10, retry_interval: 2}
steps:
  - expect: {event: ConnectionStatusChanged, connection: 0, status: Unavailable}
    within: 5s
  - expect: {event: ConnectionStatusChanged, connection: 1, status: Available}
    within: 5s
  - note: retried, never accepted
    sleep: 3s
invariants:
  - never: {event: ConnectionStatusChanged, connection: 0, status: Available}
"""


@pytest.mark.skipif(shutil.which("certutil") is None,
                    reason="certutil is not installed (apt-get install -y libnss3-tools)")
@pytest.mark.parametrize("driver", ["jssip", "sipjs"])
def test_over_wss_the_browser_trusts_the_lab_s_ca_and_no_other(tmp_path: Path, driver: str) -> None:
    """Chromium is given the lab's CA in an NSS database of its own (its HOME under the
    drill's workdir): site B's certificate is accepted, site A's (another CA) refused."""
    if not bundle(driver).exists():
        pytest.skip(f"the {driver} bundle is not built (./run setup)")
    drill = tmp_path / "wss.yaml"
    drill.write_text(WSS)
    code, result = run(drill, tmp_path, "--driver", driver)
    assert code == 0, result
    assert processes_mentioning(str(tmp_path)) == []
