"""The statuses the phone reports. Their strings are a contract: the JSON-lines protocol,
scenario files and reports use them exactly as written here (re-exported by
:mod:`endpoint.core.events`)."""

from __future__ import annotations

import enum


class ConnectionStatus(enum.StrEnum):
    REGISTERING = "Registering"
    AVAILABLE = "Available"
    UNAVAILABLE = "Unavailable"
    DISABLED = "Disabled"
    REMOVED = "Removed"


class SessionStatus(enum.StrEnum):
    DIALING = "Dialing"
    RINGING = "Ringing"
    ESTABLISHED = "Established"
    ON_HOLD = "OnHold"
    DISCONNECTED = "Disconnected"
