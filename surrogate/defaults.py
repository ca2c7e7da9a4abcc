"""Dataset defaults that the command line shows in --help: kept free of heavy imports (dragopt --help stays fast)."""

from pathlib import Path

RE_MIN, RE_MAX = 0.8, 50.0  # the design range [1, 40] with a margin at both ends
SHARD_SIZE = 256

DEFAULT_MODEL = (
    Path(__file__).resolve().parents[1] / "data" / "models" / "default"
)  # the shipped model (make model)
DEFAULT_TEST = Path(__file__).resolve().parents[1] / "data" / "datasets" / "test"  # the committed test set
