"""`dragopt designs list|show|export|delete`: the design library (optim.library) from the command line, and
the --library / --no-library options the commands that record into it share."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from app.common import SubParsers, UsageError, check_output, info, positive_int, write_result


def add_library_options(parser: argparse.ArgumentParser) -> None:
    """--library PATH and --no-library, for the commands that record what they compute."""
    parser.add_argument(
        "--library",
        metavar="PATH",
        help="the design library file (default: $DRAGOPT_LIBRARY, else "
        "~/.local/share/dragopt/designs.sqlite)",
    )
    parser.add_argument("--no-library", action="store_true", help="do not record this run in the library")


def check_library(args: argparse.Namespace) -> None:
    """Open (or create) the library the options name before any work, so a bad path fails first."""
    if getattr(args, "no_library", False):
        return
    from optim.library import Library

    Library(args.library).close()


def record(args: argparse.Namespace, design: dict[str, Any]) -> None:
    """Store a design in the library the options name (nothing with --no-library); says its id."""
    if getattr(args, "no_library", False):
        return
    from optim.library import Library

    with Library(args.library) as lib:
        design_id = lib.add(design)
        if not getattr(args, "quiet", False):
            info(f"recorded as design {design_id} in {lib.path}")


def register(sub: SubParsers) -> None:
    d = sub.add_parser(
        "designs",
        help="list, show, export or delete the designs in the library",
        description="The design library: every optimisation and simulation recorded by optimize, simulate "
        "and the app.",
    )
    d.add_argument("action", choices=("list", "show", "export", "delete", "import"))
    d.add_argument("id", nargs="?", help="the design's id (show, export, delete)")
    d.add_argument("--library", metavar="PATH", help="the library file (default: the user's)")
    d.add_argument("--out", metavar="FILE", help="export: the design file to write (JSON)")
    d.add_argument("--file", metavar="FILE", help="import: a design file (from designs export or the app)")
    d.add_argument("--json", metavar="F", help="list, show: write the result as JSON to F")
    d.set_defaults(func=run_designs)


def run_designs(args: argparse.Namespace) -> int:
    from optim.library import Library, headline_cd, to_file

    if args.action == "import":
        return _import(args)
    if args.action != "list" and args.id is None:
        raise UsageError(f"designs {args.action} needs a design id; `dragopt designs list` shows them")
    design_id = positive_int(args.id, "the design id") if args.id is not None else None
    if args.action == "export" and not args.out:
        raise UsageError("designs export needs --out FILE (the design file to write)")
    check_output(args.json)
    check_output(args.out)
    lib_path = Path(args.library) if args.library else None
    if lib_path is not None and not lib_path.is_file():
        raise UsageError(f"--library {lib_path} does not exist; give a library file")
    with Library(lib_path) as lib:
        if args.action == "list":
            rows = lib.list()
            for r in rows:
                n = r["numbers"]
                cd = headline_cd(n)
                when = time.strftime("%Y-%m-%d %H:%M", time.localtime(r["created"]))
                shown = "-" if cd is None else f"{cd:.5f}"
                print(f"{r['id']:5d}  {when}  {r['kind']:12s}  Cd {shown}  {r['name']}")
            if not rows:
                print(f"no designs in {lib.path}")
            return write_result(args.json, {"library": str(lib.path), "designs": rows})
        assert design_id is not None
        design = lib.get(design_id)
        if args.action == "show":
            print(f"design {design['id']}: {design['name']} ({design['kind']}), model {design['model']}")
            for k, v in design["numbers"].items():
                if isinstance(v, int | float | str) or v is None:
                    print(f"  {k}: {v}")
            return write_result(args.json, design)
        if args.action == "export":
            from geometry.io import atomic_write_text

            atomic_write_text(Path(args.out), to_file(design))
            print(f"wrote {args.out}")
            return 0
        lib.delete(design_id)
        print(f"deleted design {design_id} ({design['name']})")
        return 0


def _import(args: argparse.Namespace) -> int:
    from optim.library import Library, from_file

    if not args.file:
        raise UsageError("designs import needs --file FILE (a design file)")
    path = Path(args.file)
    if not path.is_file():
        raise UsageError(f"--file {path} is not a file; give a design file")
    design = from_file(path.read_bytes(), str(path))
    with Library(args.library) as lib:
        print(f"imported {path} as design {lib.add(design)} in {lib.path}")
    return 0
