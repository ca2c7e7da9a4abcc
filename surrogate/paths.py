"""Dataset defaults that the command line shows in --help: kept free of heavy imports (dragopt --help stays fast)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the repository

RE_MIN, RE_MAX = 0.8, 50.0  # the design range [1, 40] with a margin at both ends
SHARD_SIZE = 256

DEFAULT_MODEL = ROOT / "data" / "models" / "default"  # the shipped model (make model)
DEFAULT_TEST = ROOT / "data" / "datasets" / "test"  # the committed test set


def portable(path) -> str:
    """A folder as a model card or report records it: relative to the repository when inside it, as given when
    relative, else only its name after '.../' (a card is shared: no machine's absolute path in it)."""
    p = Path(path)
    if not p.is_absolute():
        return str(p)
    try:
        return str(p.resolve().relative_to(ROOT))
    except ValueError:
        return f".../{p.name}"
