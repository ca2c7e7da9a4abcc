"""Dataset defaults that the command line shows in --help: kept free of heavy imports (dragopt --help stays
fast)."""

RE_MIN, RE_MAX = 0.8, 50.0  # the design range [1, 40] with a margin at both ends
SHARD_SIZE = 256  # samples per shard file
