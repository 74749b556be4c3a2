"""A corpus of malformed JSON-lines commands: each gets one Error event, and the endpoint
goes on serving (checked by a command that works after each)."""

from __future__ import annotations

import asyncio
import io
import json

import pytest

from endpoint.config import ConnectionConfig, EndpointConfig
from endpoint.jsonlines import Process

BAD = [
    "not json", "{", "[]", "42", '"dial"', "null", '{"cmd": 7}', '{"cmd": "fly"}', '{}',
    '{"cmd": "dial"}', '{"cmd": "dial", "connection": "0", "destination": "6001"}',
    '{"cmd": "dial", "connection": true, "destination": "6001"}',
    '{"cmd": "dial", "connection": 0, "destination": ""}',
    '{"cmd": "dial", "connection": 0, "destination": "60 01"}',
    '{"cmd": "dial", "connection": 0, "destination": "6001\\r\\nX-Evil: 1"}',
    '{"cmd": "dial", "connection": 9, "destination": "6001"}',
    '{"cmd": "dial", "connection": 0, "destination": NaN}',
    '{"cmd": "dial", "connection": 1e999, "destination": "6001"}',
    '{"cmd": "answer", "session": "nope"}', '{"cmd": "hangup"}', '{"cmd": "hold", "session": 3}',
    '{"cmd": "add_connection", "connection": 0, "user": "5002", "server": "127.0.0.1"}',
    '{"cmd": "add_connection", "connection": 5, "user": "a\\nb", "server": "127.0.0.1"}',
    '{"cmd": "add_connection", "connection": 5, "user": "5002", "server": "::1"}',
    '{"cmd": "add_connection", "connection": 5, "user": "5002", "server": "h", "reg_interval": -1}',
    '{"cmd": "add_connection", "connection": 5, "user": "5002", "server": "h", "protocol": "sctp"}',
    '{"cmd": "enable_connection", "connection": 42}', '{"cmd": "remove_connection"}',
    "[" * 60_000, '{"cmd": "connections", "cmd": ' + '"x"}',
]  # fmt: skip


@pytest.mark.parametrize("line", BAD, ids=range(len(BAD)))
def test_a_malformed_command_is_one_error_and_the_endpoint_goes_on(line: str) -> None:
    async def main() -> list[dict[str, object]]:
        out = io.StringIO()
        config = EndpointConfig(
            connections=[ConnectionConfig(id=0, user="5001", server="127.0.0.1", port=9)]
        )
        proc = Process(config, out)
        await proc.phone.start()
        try:
            proc.handle_line(line)
            proc.handle_line('{"cmd": "connections"}')
            await asyncio.sleep(0)
        finally:
            await proc.phone.close(unregister=False)
        return [json.loads(x) for x in out.getvalue().splitlines()]

    events = asyncio.run(main())
    names = [e["event"] for e in events]
    assert names.count("Error") == 1, events
    assert names[-1] == "Connections"
