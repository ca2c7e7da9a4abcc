"""What a `dragopt refine` run does: its start shapes and Reynolds numbers, rounds, fine-tuning stages and
their rates, and the checks on them. The plan's hash names the run's shards, so a rerun continues only the
same plan."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

from sim.setups import check_reynolds_numbers

STARTS = ("circle", "ellipse:2", "rect:1:0.25", "naca:0030")  # four families: round, long, cornered, thin
RE = (1.0, 5.0, 20.0, 40.0)  # across the design range, log-spaced roughly
FAMILY = "refine"
REPORT = "refine.json"


@dataclass
class Plan:
    """What a refine run does; its hash names the run's shards, so a rerun continues only the same plan."""

    starts: list[str] = field(default_factory=lambda: list(STARTS))
    re: list[float] = field(default_factory=lambda: list(RE))
    rounds: int = 2
    trajectory: int = 2  # designs along each optimisation simulated besides the final one
    opt_steps: int = 60  # optimiser iterations per problem
    steps: int = 300  # fine-tuning steps per round (per member of an ensemble)
    method: str = "dp"
    lr: float = 3e-5
    share: float = 0.25  # of every fine-tuning batch, drawn from the refine samples
    polish: int = 200  # then steps on uniform batches at lr / 3 (0: none)
    settle: int = 2500  # after the last round, steps on uniform batches at settle_lr (0: none)
    settle_lr: float = 2e-5
    batch: int = 32

    def check(self) -> None:
        """A ValueError naming the first setting that cannot be used."""
        if not self.starts:
            raise ValueError("refine needs at least one start shape")
        check_reynolds_numbers(self.re, "--re")
        for name in ("polish", "settle"):
            v = getattr(self, name)
            if not (isinstance(v, int) and v >= 0):
                raise ValueError(f"{name} must be a whole number of steps >= 0; got {v!r}")
        for name in ("opt_steps", "steps", "batch"):
            v = getattr(self, name)
            if not (isinstance(v, int) and v >= 1):
                raise ValueError(f"{name.replace('_', '-')} must be a positive whole number; got {v!r}")
        if not (isinstance(self.rounds, int) and self.rounds >= 0):
            raise ValueError(f"rounds must be a whole number >= 0 (0: only measure); got {self.rounds!r}")
        if not (isinstance(self.trajectory, int) and self.trajectory >= 0):
            raise ValueError(f"trajectory must be a whole number >= 0; got {self.trajectory!r}")
        if not 0 < self.share < 1:
            raise ValueError(f"the batch share of refine samples must be between 0 and 1; got {self.share}")

    def problems(self) -> list[dict]:
        """Start x Re, the area held (D = 1); every second problem also symmetric about the flow axis."""
        out: list[dict] = []
        for s in self.starts:
            for r in self.re:
                out.append({"k": len(out), "start": s, "re": float(r), "symmetric": len(out) % 2 == 0})
        return out

    def tag(self) -> str:
        """A short hash of the plan: it names the run's shards."""

        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:8]
