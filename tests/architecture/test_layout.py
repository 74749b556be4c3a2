"""The README's layout table is true to the tree: every package has its row, every module
of a package is named in its row, and everything a row names exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[2]
TICKED = re.compile(r"`([^`]+)`")


def rows() -> dict[str, str]:
    """Each row's folder (its first cell's one ``folder/``) and its second cell."""
    text = (ROOT / "README.md").read_text()
    table = text.split("## Layout", 1)[1].split("\n## ", 1)[0]
    out = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 2 or cells[0] in ("where", "---"):
            continue
        folders = [t for t in TICKED.findall(cells[0]) if t.endswith("/")]
        assert len(folders) == 1, f"a layout row names one folder: {line[:80]}"
        out[folders[0]] = cells[1]
    return out


ROWS = rows()


def packages() -> list[Path]:
    return sorted(p.parent for pkg in ("endpoint", "lab", "bench")
                  for p in (ROOT / pkg).rglob("__init__.py"))  # fmt: skip


def test_every_package_has_its_row() -> None:
    missing = [str(p.relative_to(ROOT)) + "/" for p in packages()
               if str(p.relative_to(ROOT)) + "/" not in ROWS]  # fmt: skip
    assert missing == []


def test_every_module_is_named_in_its_package_s_row() -> None:
    unnamed = {}
    for package in packages():
        row = ROWS[str(package.relative_to(ROOT)) + "/"]
        named = set(TICKED.findall(row))
        modules = [p.name for p in sorted(package.glob("*.py")) if not p.name.startswith("__")]
        missing = [m for m in modules if m not in named]
        if missing:
            unnamed[str(package.relative_to(ROOT))] = missing
    assert unnamed == {}


def test_everything_a_row_names_exists() -> None:
    absent = []
    for folder, row in ROWS.items():
        for name in TICKED.findall(row):
            if re.fullmatch(r"[\w./-]+\.(py|cfg|md|sh)|[\w-]+/", name) and "/" not in name[:-1]:
                where = ROOT / folder / name
                if not where.exists() and not (ROOT / "docs" / name).exists():
                    absent.append(f"{folder}{name}")
            elif (
                re.fullmatch(r"[\w-]+/[\w./-]+", name)
                and not name.startswith("python")
                and not (ROOT / folder / name).exists()
                and not (ROOT / name).exists()
            ):
                absent.append(f"{folder}{name}")
    assert absent == []
