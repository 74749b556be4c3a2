"""The rooms of docs/architecture.md and their order, held against the tree: every module
is in exactly one room, and imports only from its own line of rooms or from lower ones."""

from __future__ import annotations

import re

from tests.architecture.test_imports import MODULES, ROOT, graph

DOC = ROOT / "docs" / "architecture.md"


def documented_rooms(text: str) -> list[list[str]]:
    """The ``rooms`` block's lines, highest first: each the paths (folders ending in ``/``
    or modules) its rooms name; the rest of a line describes them."""
    block = re.search(r"```rooms\n(.*?)```", text, re.S)
    assert block is not None, "docs/architecture.md has no ```rooms block"
    levels = []
    for line in block.group(1).splitlines():
        paths = []
        for word in line.split():
            if not word.endswith(("/", ".py")):
                break
            paths.append(word)
        levels.append(paths)
    return levels


def level_of(module: str, levels: list[list[str]]) -> tuple[int, str]:
    """(line, room) of ``module``: the room whose path holds it most closely."""
    path = str(MODULES[module].relative_to(ROOT))
    best: tuple[int, int, str] | None = None  # (length of the match, line, room)
    for line, rooms in enumerate(levels):
        for room in rooms:
            holds = path == room or (room.endswith("/") and path.startswith(room))
            if holds and (best is None or len(room) > best[0]):
                best = (len(room), line, room)
    assert best is not None, f"{path} is in no room of docs/architecture.md"
    return best[1], best[2]


def test_every_module_is_in_a_room_and_every_room_has_modules() -> None:
    levels = documented_rooms(DOC.read_text())
    used = {level_of(m, levels)[1] for m in MODULES}
    assert used == {room for rooms in levels for room in rooms}


def test_imports_go_only_down_the_documented_order() -> None:
    levels = documented_rooms(DOC.read_text())
    up = []
    for module, deps in graph().items():
        line, room = level_of(module, levels)
        for dep in deps:
            dep_line, dep_room = level_of(dep, levels)
            if dep_line < line:
                up.append(f"{module} ({room}) -> {dep} ({dep_room})")
    assert sorted(up) == []


def test_the_order_check_finds_an_arrow_up() -> None:
    levels = documented_rooms("```rooms\nlab/run/  the runner\nlab/steps/  steps\n```")
    assert levels == [["lab/run/"], ["lab/steps/"]]
    assert level_of("lab.run.runner", levels) == (0, "lab/run/")
    assert level_of("lab.steps.base", levels) == (1, "lab/steps/")
