"""`dragopt export`: a shape's outline to CSV, DXF, SVG, or an STL/OBJ/GLB mesh, in the input's units."""

from __future__ import annotations

import argparse
import math
import warnings
from pathlib import Path

from app.common import SubParsers, UsageError, check_output, float_arg, info


def register(sub: SubParsers) -> None:
    """The `export` sub-command."""
    from geometry.export import FORMATS, UNITS
    from geometry.presets import PRESET_HELP

    e = sub.add_parser(
        "export",
        help="export a shape to CSV, DXF, SVG, STL, OBJ or GLB",
        description=(
            "Export a shape in the input's units (the numbers are not rescaled; --units labels them, except "
            "in GLB, whose unit is the metre: there --units converts to metres). Meshes (stl, obj, glb) are "
            "a prism (--extrude L, default: the shape's equivalent diameter D) or a body of revolution of "
            "the section's upper half about the flow axis through its centroid (--revolve)."
        ),
    )
    e.add_argument("--shape", required=True, help=f"SHAPE: {PRESET_HELP}")
    e.add_argument("--format", choices=FORMATS, help="file format (default: from the --out suffix)")
    e.add_argument(
        "--units", choices=tuple(UNITS), help="the unit of the shape's numbers (default: unlabelled)"
    )
    g = e.add_mutually_exclusive_group()
    g.add_argument("--extrude", metavar="L", help="stl/obj/glb: a prism of length L in the shape's units")
    g.add_argument(
        "--revolve", action="store_true", help="stl/obj/glb: revolve the upper half about the flow axis (x)"
    )
    e.add_argument(
        "--spline", action="store_true", help="dxf: one fitted closed SPLINE instead of a polyline"
    )
    e.add_argument("--out", required=True, metavar="FILE", help="output file")
    e.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """`dragopt export`: check the options, write the file, say what was written."""
    from geometry.export import FORMATS, MESH_FORMATS, export_shape

    fmt = args.format
    if fmt is None:
        fmt = Path(args.out).suffix.lower().lstrip(".")
        if fmt not in FORMATS:
            raise UsageError(f"cannot tell the format from {args.out!r}; give --format ({'|'.join(FORMATS)})")
    if fmt not in MESH_FORMATS and (args.extrude is not None or args.revolve):
        raise UsageError(
            f"--extrude and --revolve apply to mesh formats ({', '.join(MESH_FORMATS)}), not to {fmt}"
        )
    if args.spline and fmt != "dxf":
        raise UsageError(f"--spline applies to dxf, not to {fmt}")
    extrude = None
    if args.extrude is not None:
        extrude = float_arg(args.extrude, "--extrude")
        if not (math.isfinite(extrude) and extrude > 0):
            raise UsageError(f"--extrude must be a positive length; got {args.extrude}")
    from geometry.presets import parse_shape

    shape = parse_shape(args.shape)
    check_output(args.out)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = export_shape(
            shape, args.out, fmt, units=args.units, extrude=extrude, revolve=args.revolve, spline=args.spline
        )
    for w in caught:
        if issubclass(w.category, UserWarning):
            info(f"dragopt: warning: {w.message}")
    unit = args.units or "the input's units"
    if fmt in MESH_FORMATS:
        if args.revolve:
            how = "revolved about the flow axis"
        else:
            how = f"extruded by {out['extruded_length']:.6g}" + (
                " (D, the default)" if extrude is None else ""
            )
        cubed = f" {args.units}^3" if args.units else ""
        glb = "; converted to metres, glTF's unit" if fmt == "glb" and args.units else ""
        print(
            f"wrote {shape.name} {how} to {args.out}: {out['faces']} triangles, watertight, "
            f"volume {out['volume']:.6g}{cubed} ({unit}{glb})"
        )
    else:
        print(f"wrote {out['points']} points of {shape.name} to {args.out} ({fmt}, {unit})")
    return 0
