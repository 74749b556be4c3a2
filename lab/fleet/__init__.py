"""A fleet's vocabulary: its plan and result (``meter.py``) and the meter that sees every
message of a storm (``stormmeter.py``). Real fleets are :mod:`lab.real`'s, simulated ones
:mod:`lab.sim`'s, the fleet drill :mod:`lab.run`'s."""
