"""The `dragopt` command line (DESIGN.md section 5). It only wires the command modules of app/commands/ (each
registers its sub-parsers) and turns errors into one line `dragopt: error: <message>` with exit code 2; Ctrl+C
ends with `dragopt: interrupted` and exit code 130. No physics or training logic lives here.
"""

from __future__ import annotations

import sys

from app.common import EXIT_INTERRUPTED, EXIT_USAGE, Parser, UsageError, jsonable
from sim.errors import SetupError, SimulationError

__all__ = ["build_parser", "jsonable", "main"]

NOT_YET = "dragopt {cmd}: not available yet (planned; see DESIGN.md)"
PLANNED = {
    "optimize": "minimise the drag of a shape with the surrogate",
    "verify": "compare the surrogate's drag with a simulation",
}


def cmd_planned(args) -> int:
    print(NOT_YET.format(cmd=args.command), file=sys.stderr)
    return EXIT_USAGE


def build_parser() -> Parser:
    from app.commands import dataset, export, serve, simulate, train

    p = Parser(prog="dragopt", description="Minimum-drag shape design for 2D laminar flow.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    simulate.register(sub)
    dataset.register(sub)
    train.register(sub)
    train.register_compare(sub)
    export.register(sub)
    serve.register(sub)
    for name, summary in PLANNED.items():
        q = sub.add_parser(
            name,
            help=f"{summary} (not available yet)",
            description=f"{summary}. Not available yet (planned; see DESIGN.md section 5).",
        )
        q.set_defaults(func=cmd_planned)
    return p


def main(argv: list[str] | None = None) -> int:
    try:
        parser = build_parser()
        args, extra = parser.parse_known_args(argv)
        if extra and args.func is not cmd_planned:  # planned commands accept anything for now
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        return args.func(args)
    except KeyboardInterrupt:
        print("dragopt: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except SimulationError as exc:
        print(f"dragopt: error: simulation failed: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except (UsageError, SetupError, ValueError, OSError) as exc:  # ShapeError is a ValueError
        print(f"dragopt: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE


def _one_line(exc: BaseException) -> str:
    msg = str(exc) or type(exc).__name__
    return " ".join(msg.split())


if __name__ == "__main__":
    sys.exit(main())
