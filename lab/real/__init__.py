"""The real lab: sites behind the fault proxy (``lab.py``), the faults its proxies apply
(``proxyfaults.py``), real fleets (``fleet.py``, over worker processes ``shards.py``),
removing what a lab left (``cleanup.py``), and the process behind ``geolab up``
(``holder.py``)."""
