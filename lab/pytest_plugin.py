"""The geolab pytest plugin (entry point ``pytest11``).

Options are prefixed ``--lab-``; scenario collection arrives with the scenario runner.
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("geolab", "geo-redundancy lab")
    group.addoption(
        "--lab-backend",
        action="store",
        default=None,
        choices=("embedded", "kamailio", "compose"),
        help="site backend for lab fixtures (default: kamailio when installed)",
    )
