"""Container sites with the docker SDK (see compose/ for the project and the engine)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import docker


def _client() -> Any:
    return docker.from_env()


async def remove_containers(containers: list[str], projects: list[str]) -> list[str]:
    """Force-remove the named containers and every container of the compose projects."""

    def work() -> list[str]:
        done: list[str] = []
        try:
            client = _client()
        except Exception as exc:  # no engine: nothing can be running there
            reason = exc.__class__.__name__
            return [f"docker engine not reachable ({reason}); containers left alone"]
        for name in containers:
            with contextlib.suppress(Exception):
                client.containers.get(name).remove(force=True)
                done.append(f"removed container {name}")
        for project in projects:
            for container in client.containers.list(
                all=True, filters={"label": f"com.docker.compose.project={project}"}
            ):
                with contextlib.suppress(Exception):
                    container.remove(force=True)
                    done.append(f"removed container {container.name}")
        return done

    return await asyncio.to_thread(work)
