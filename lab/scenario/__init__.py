"""A drill's building blocks: its models (``models.py``: topology, connections, faults,
calls, expectations), bound expressions (``expr.py``), a fleet's part (``fleetspec.py``).
Whole drills, loaded and checked, are :mod:`lab.drill`'s."""
