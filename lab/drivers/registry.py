"""Drivers register themselves, as steps do: one decorator carries a driver's name, what it
supports and a line for ``--help``; the CLI's choices, the drill schema and ``make_driver``
read the registry. A new driver is its own module (imported by ``lab/drivers/__init__.py``)
and nothing else."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from lab.drivers.capabilities import Capabilities

if TYPE_CHECKING:
    from lab.drivers.base import EndpointDriver

T = TypeVar("T")


@dataclass(frozen=True)
class Registered:
    name: str
    capabilities: Capabilities
    summary: str  # one line for `geolab run --help`
    make: Callable[[list[str] | None], EndpointDriver]  # from --endpoint-command, if any


REGISTRY: dict[str, Registered] = {}


def driver(
    name: str, capabilities: Capabilities, summary: str, *, takes_command: bool = True
) -> Callable[[type[T]], type[T]]:
    """Register the class below as driver ``name``; it gets ``name`` and ``capabilities``
    as class attributes. ``takes_command``: its constructor takes the endpoint's command
    (``--endpoint-command``), else none."""

    def register(cls: type[T]) -> type[T]:
        if name in REGISTRY:
            raise ValueError(f"driver {name!r} is registered twice")
        setattr(cls, "name", name)  # noqa: B010 (set on the class the decorator is given)
        setattr(cls, "capabilities", capabilities)  # noqa: B010

        def make(command: list[str] | None) -> EndpointDriver:
            made = cls(command) if takes_command else cls()  # type: ignore[call-arg]
            return made  # type: ignore[return-value]

        REGISTRY[name] = Registered(name, capabilities, summary, make)
        return cls

    return register


def capabilities_of(name: str) -> Capabilities:
    return REGISTRY[name].capabilities


def make_driver(name: str, command: list[str] | None = None) -> EndpointDriver:
    try:
        entry = REGISTRY[name]
    except KeyError:
        raise ValueError(f"driver {name!r}: not one of {', '.join(REGISTRY)}") from None
    return entry.make(command)
