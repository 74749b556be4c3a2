"""Faults: geolab's own fault proxy (Toxiproxy's HTTP API, for TCP and UDP, with
SIP-aware toxics), a client of that API, process faults and kernel (nftables) faults."""
