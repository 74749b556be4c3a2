"""Where a connection named by host name sends: its server's targets, found as RFC 3263
says (:mod:`endpoint.core.rfc3263`) and kept until their TTL runs out; the next target
tried when one times out, fails at the transport or answers 503 (§4.3); a name that finds
no target is a site that is down (the connection Unavailable, retried at its interval).
The phone's part, as a base of :class:`endpoint.core.phone.Phone`.

The questions go out through :meth:`Locating.dns_queries` and their answers come back
through :meth:`Locating.dns_answered`: the I/O layer asks the configured DNS server (or
the system's resolver, for A records only, when none is configured)."""

from __future__ import annotations

from endpoint.config import EndpointConfig
from endpoint.core.connection import Connection
from endpoint.core.keepalive import KeepAlives
from endpoint.core.rfc3263 import DnsAnswer, DnsQuery, Resolution
from endpoint.sip.ids import IdSource


class Locating(KeepAlives):
    connections: dict[int, Connection]
    ids: IdSource
    config: EndpointConfig
    _dns_out: list[DnsQuery]
    _dns_owner: dict[int, tuple[int, int]]  # query id -> (connection, generation)
    _dns_next: int

    def _located(self, conn: Connection, now: float) -> None:
        """``conn``'s targets are known: register there (or fail: none found)."""
        raise NotImplementedError

    def dns_queries(self) -> list[DnsQuery]:
        """The questions to ask now (each answered through :meth:`dns_answered`)."""
        out, self._dns_out = self._dns_out, []
        return out

    def locate(self, conn: Connection, now: float) -> bool:
        """True: ``conn`` knows where to send. Else a resolution is under way (started now
        if none was) and :meth:`_located` is called when it ends."""
        if conn.name is None or (conn.targets and now < conn.resolved_until):
            return True
        if conn.resolution is None:
            resolution = Resolution(
                conn.name, conn.transport, conn.config.port, rng=self.ids.rng,
                next_id=self._dns_next, naptr=self.config.dns_server is not None,
            )  # fmt: skip
            conn.resolution = resolution
            self._ask(conn, resolution.start())
        return False

    def _ask(self, conn: Connection, queries: list[DnsQuery]) -> None:
        assert conn.resolution is not None
        self._dns_next = conn.resolution.next_id
        for query in queries:
            self._dns_owner[query.id] = (conn.id, conn.generation)
        self._dns_out.extend(queries)

    def dns_answered(self, query_id: int, answer: DnsAnswer, now: float) -> None:
        owner = self._dns_owner.pop(query_id, None)
        if owner is None:
            return
        conn = self.connections.get(owner[0])
        resolution = conn.resolution if conn is not None else None
        if conn is None or resolution is None or conn.generation != owner[1]:
            return  # removed or disabled meanwhile
        self._ask(conn, resolution.answer(query_id, answer, now))
        if not resolution.done:
            return
        conn.resolution = None
        conn.dns_error = resolution.error
        if resolution.error is None:
            conn.targets = resolution.targets
            conn.resolved_until = resolution.expires
            if self.config.mutant == "ignores_ttl":  # (a mutant's doing: kept for ever)
                conn.resolved_until = float("inf")
            # the target in use stays while the name still leads there; else the first
            if conn.address in conn.targets:
                conn.target_at = conn.targets.index(conn.address)
            else:
                conn.target_at, conn.address = 0, conn.targets[0]
        self._located(conn, now)

    def next_target(self, conn: Connection) -> bool:
        """Move ``conn`` on to its server's next target (RFC 3263 §4.3): False when none is
        left (the next attempt starts again from the first)."""
        if conn.name is None or not conn.targets or self.config.mutant == "stays_on_first_target":
            return False
        if conn.target_at + 1 < len(conn.targets):
            conn.target_at += 1
            conn.address = conn.targets[conn.target_at]
            return True
        conn.target_at, conn.address = 0, conn.targets[0]
        return False
