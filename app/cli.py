"""The `dragopt` command line. It only wires the command modules of app/commands/ (each registers its
sub-parsers) and turns errors into one line `dragopt: error: <message>` with exit code 2; Ctrl+C ends with
`dragopt: interrupted` and exit code 130. No physics or training logic lives here.
"""

from __future__ import annotations

import sys

from app.common import EXIT_INTERRUPTED, EXIT_USAGE, Parser, UsageError, jsonable
from sim.errors import SetupError, SimulationError

__all__ = ["build_parser", "jsonable", "main"]


def build_parser() -> Parser:
    """The parser of every sub-command."""
    from app.commands import dataset, designs, export, optimize, refine, serve, simulate, train

    p = Parser(prog="dragopt", description="Minimum-drag shape design for 2D laminar flow.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    simulate.register(sub)
    dataset.register(sub)
    train.register(sub)
    train.register_compare(sub)
    train.register_ensemble(sub)
    optimize.register(sub)
    refine.register(sub)
    export.register(sub)
    serve.register(sub)
    designs.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns its exit code (errors are one line on stderr, never a traceback)."""
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
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
