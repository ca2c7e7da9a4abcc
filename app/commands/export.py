"""`dragopt export`: a shape's outline to a file in the input's units."""

from __future__ import annotations

from pathlib import Path

from app.common import UsageError, check_output

FORMATS = ("csv", "dxf", "svg", "stl", "obj", "glb")
BUILT = ("csv",)


def register(sub) -> None:
    from geometry.presets import PRESET_HELP

    e = sub.add_parser(
        "export",
        help="export a shape to a file",
        description="Export a shape's outline in the input's units (csv now; dxf svg stl obj glb planned).",
    )
    e.add_argument("--shape", required=True, help=f"SHAPE: {PRESET_HELP}")
    e.add_argument("--format", choices=FORMATS, help="file format (default: from the --out suffix)")
    g = e.add_mutually_exclusive_group()
    g.add_argument("--extrude", metavar="L", help="3D formats (planned): extrude by L")
    g.add_argument("--revolve", action="store_true", help="3D formats (planned): revolve about the x axis")
    e.add_argument("--out", required=True, metavar="FILE", help="output file")
    e.set_defaults(func=run)


def run(args) -> int:
    fmt = args.format
    if fmt is None:
        fmt = Path(args.out).suffix.lower().lstrip(".")
        if fmt not in FORMATS:
            raise UsageError(f"cannot tell the format from {args.out!r}; give --format ({'|'.join(FORMATS)})")
    if fmt not in BUILT:
        raise UsageError(
            f"export format {fmt} is not available yet (planned; see DESIGN.md); "
            f"available now: {', '.join(BUILT)}"
        )
    if args.extrude is not None or args.revolve:
        raise UsageError("--extrude and --revolve apply to 3D formats (stl, obj, glb), not to csv")
    from geometry.io import write_csv
    from geometry.presets import parse_shape

    shape = parse_shape(args.shape)
    check_output(args.out)
    pts = shape.user_points()
    write_csv(args.out, pts)
    print(f"wrote {len(pts)} points of {shape.name} to {args.out} (x,y in the input's units)")
    return 0
