"""Where the repository and its shipped model and test set are, and how a card records a folder. Light: the
CLI's --help reads it."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the repository

DEFAULT_MODEL = ROOT / "data" / "models" / "default"  # the shipped model (make model)
DEFAULT_TEST = ROOT / "data" / "datasets" / "test"  # the committed test set


def portable(path: str | os.PathLike[str]) -> str:
    """A folder as a model card or report records it: relative to the repository when inside it, as given when
    relative, else only its name after '.../' (a card is shared: no machine's absolute path in it)."""
    p = Path(path)
    if not p.is_absolute():
        return str(p)
    try:
        return str(p.resolve().relative_to(ROOT))
    except ValueError:
        return f".../{p.name}"
