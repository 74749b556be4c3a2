"""geolab's SIP endpoint (see endpoint.compiled for its compiled core)."""

from endpoint.compiled import guard

guard()
