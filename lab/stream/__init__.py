"""The run's typed event stream (``events``), the results it tells (``results``) and the
interface of its consumers (``handlers``)."""
