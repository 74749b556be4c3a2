"""Build the compiled core: ``python -m endpoint.compile build | clean | status``.

See :mod:`endpoint.compiled` for what is compiled and when the build is used.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from endpoint.compiled import GROUP, MANIFEST, MODULES, ROOT, built, digest, sources, verdict


def build() -> None:
    """Compile :data:`MODULES` in place: mypyc writes C for the group, the C compiler builds
    its shared library and one small extension per module next to its source."""
    # (only a build needs the compiler; status, in an installed wheel, does not)
    from mypyc.build import mypycify  # noqa: PLC0415
    from setuptools import setup  # noqa: PLC0415

    clean()
    here = Path.cwd()
    os.chdir(ROOT)
    try:
        extensions = mypycify([str(s) for s in sources()], opt_level="3", group_name=GROUP)
        setup(
            name="geolab-compiled",
            ext_modules=extensions,  # type: ignore[arg-type]  # distutils' and setuptools' Extension
            script_args=["-q", "build_ext", "--inplace"],
        )
    finally:
        os.chdir(here)
    manifest = {
        "python": sys.implementation.cache_tag,
        "sources": {str(s): digest(s) for s in sources()},
    }
    MANIFEST.write_text(json.dumps(manifest, indent=1) + "\n")


def clean() -> None:
    for path in built():
        path.unlink()
    MANIFEST.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    command = args[0] if args else "status"
    if command == "build":
        build()
    elif command == "clean":
        clean()
    elif command != "status":
        print("usage: python -m endpoint.compile [build | clean | status]", file=sys.stderr)
        return 2
    why = verdict()  # afresh: a build or clean in this process changed it
    print(f"pure Python ({why})" if why else f"compiled with mypyc ({len(MODULES)} modules)")
    return 0 if command == "status" or bool(why) == (command == "clean") else 1


if __name__ == "__main__":
    raise SystemExit(main())
