"""Endpoint drivers: how the lab starts, commands and watches the endpoint under test.

- ``inprocess``: geolab's own phone in the lab's process (the default);
- ``process``: any command speaking the JSON-lines protocol (``python -m endpoint`` when
  none is given);
- ``baresip``: Debian's baresip through its ``ctrl_tcp`` control port."""

from __future__ import annotations

from lab.drivers.baresip import BaresipDriver
from lab.drivers.base import DriverContext, EndpointDriver
from lab.drivers.capabilities import CAPABILITIES, Capabilities
from lab.drivers.inprocess import InProcessDriver
from lab.drivers.process import ProcessDriver

DRIVERS = tuple(CAPABILITIES)


def make_driver(name: str, command: list[str] | None = None) -> EndpointDriver:
    if name == "inprocess":
        return InProcessDriver()
    if name == "process":
        return ProcessDriver(command)
    if name == "baresip":
        return BaresipDriver(command)
    raise ValueError(f"driver {name!r}: not one of {', '.join(DRIVERS)}")


__all__ = ["CAPABILITIES", "DRIVERS", "Capabilities", "DriverContext", "EndpointDriver",
           "make_driver"]  # fmt: skip
