"""Endpoint drivers: how the lab starts, commands and watches the endpoint under test.
Each registers itself (:mod:`lab.drivers.registry`); importing this package registers them
all:

- ``inprocess``: geolab's own phone in the lab's process (the default);
- ``process``: any command speaking the JSON-lines protocol (``python -m endpoint`` when
  none is given);
- ``baresip``: Debian's baresip through its ``ctrl_tcp`` control port;
- ``pjsua2``: PJSIP (PyPI's pjsua2-python) in an adapter process of its own;
- ``jssip``: JsSIP in Debian's headless Chromium, over the DevTools protocol."""

from __future__ import annotations

# isort: off
# each module registers its driver as it is imported, in this order (the CLI lists them so)
from lab.drivers import inprocess, process, baresip, pjsua2, browser  # noqa: F401
# isort: on
from lab.drivers.base import DriverContext, EndpointDriver
from lab.drivers.capabilities import Capabilities
from lab.drivers.registry import REGISTRY, capabilities_of, make_driver

DRIVERS = tuple(REGISTRY)

__all__ = ["DRIVERS", "REGISTRY", "Capabilities", "DriverContext", "EndpointDriver",
           "capabilities_of", "make_driver"]  # fmt: skip
