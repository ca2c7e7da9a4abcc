"""`dragopt generate` and `dragopt dataset info|show`: make a dataset of simulations and look at it."""

from __future__ import annotations


def register(sub) -> None:
    pass
