"""The endpoint's connections at run time: add, enable, disable, remove."""

from __future__ import annotations

from lab.scenario.models import AddConnectionSpec
from lab.steps.base import Action, Checker, Loc, Place, StepRun, handles


class AddConnection(Action):
    ACTION = "add_connection"
    add_connection: AddConnectionSpec

    def check(self, c: Checker, loc: Loc) -> None:
        c.site(self.add_connection.site, (*loc, "add_connection", "site"))
        conn_id = self.add_connection.id
        if conn_id in c.connections:
            c.error((*loc, "add_connection", "id"), f"the endpoint has connection {conn_id}")
        c.connections.add(conn_id)
        c.known_connections.add(conn_id)


class _OnConnection(Action):
    def connection(self) -> int:
        return int(getattr(self, self.ACTION))

    def check(self, c: Checker, loc: Loc) -> None:
        c.connection(self.connection(), (*loc, self.ACTION))
        if self.ACTION == "remove_connection":
            c.connections.discard(self.connection())


class EnableConnection(_OnConnection):
    ACTION = "enable_connection"
    enable_connection: int


class DisableConnection(_OnConnection):
    ACTION = "disable_connection"
    disable_connection: int


class RemoveConnection(_OnConnection):
    ACTION = "remove_connection"
    remove_connection: int


@handles(AddConnection)
async def add_connection(run: StepRun, step: AddConnection, place: Place) -> None:
    spec = step.add_connection
    await run.endpoint.add_connection(run.connection_config(spec, spec.id))


async def _on_connection(run: StepRun, step: _OnConnection, place: Place) -> None:
    await getattr(run.endpoint, step.ACTION)(step.connection())


for _model in (EnableConnection, DisableConnection, RemoveConnection):
    handles(_model)(_on_connection)
