"""``geolab run --check-determinism``: each simulated drill runs twice with the same seed
and its timelines must be the same, event for event; a difference fails the run and says
where."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from lab.cli.main import main
from lab.sim import lab as sim_lab
from lab.sim.site import SimSite

LIBRARY = Path(__file__).parents[2] / "scenarios"


def test_the_library_s_simulated_drills_run_the_same_twice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    drills = [str(LIBRARY / n) for n in ("flapping-site.yaml", "sip-rules.yaml",
                                        "second-line-rings.yaml")]  # fmt: skip
    code = main(["run", *drills, "--mode", "sim", "--seed", "5", "--check-determinism", "-q",
                 "--report-dir", str(tmp_path)])  # fmt: skip
    assert code == 0
    assert "every simulated drill ran the same twice" in capsys.readouterr().out


def test_a_drill_that_differs_the_second_time_fails_and_says_where(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def unseeded(*args: Any, **kwargs: Any) -> SimSite:
        return SimSite(*args, **{**kwargs, "seed": random.random()})  # tags no seed decides

    monkeypatch.setattr(sim_lab, "SimSite", unseeded)  # (the compiled site's own methods
    # cannot be patched: the lab that builds the sites can)
    code = main(["run", str(LIBRARY / "both-sites-register.yaml"), "--mode", "sim",
                 "--check-determinism", "-q", "--report-dir", str(tmp_path)])  # fmt: skip
    assert code == 1
    err = capsys.readouterr().err
    assert "both-sites-register.yaml: not deterministic: with seed 0" in err
    assert "second run differs at event" in err and "first:" in err and "second:" in err
