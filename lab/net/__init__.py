"""What crosses a network the lab makes: the wire's codec (``wire.py``) and the party
network, real UDP or simulated (``party.py``)."""
