"""How a training runs: the method, its budget and rates, the batch composition; and the errors it stops
with."""

from __future__ import annotations

from dataclasses import dataclass

METHODS = ("supervised", "dp", "sip", "hig")
OUTPUT_SETS = ("drag", "all")  # what the physics loss is over: (Cd, Cl), or every output of P
DEFAULT_LR = {"supervised": 1e-3, "dp": 1e-4, "sip": 1e-4, "hig": 0.3}  # swept: docs/method-comparison.md


class TrainingError(RuntimeError):
    """Training stopped (NaN or exploding loss): the message says where and what was kept."""


@dataclass
class TrainConfig:
    method: str = "supervised"
    steps: int = 10_000
    batch: int = 32
    lr: float | None = None  # default per method (DEFAULT_LR); cosine decay to 5% over `steps`
    seed: int = 0
    bootstrap: bool = False  # train on a seeded bootstrap resample of the training split: an ensemble member
    base: int = 16
    depth: int = 3
    field_weight: float = 0.0  # dp/sip/hig: the supervised field loss as a second term, with its own Adam
    field_lr: float = 1e-4  # that Adam's rate (decayed with the method's)
    focus: str | None = None  # a sample family (e.g. 'refine') that gets `focus_share` of every batch
    focus_share: float = 0.25
    residual_weight: float = 0.0  # PhiFlow Navier-Stokes residual (surrogate.residual), a state term as above
    # the shape-gradient term (surrogate.shape_gradient) against the stored adjoint sensitivities: added to
    # supervised's and dp's loss, a state term for sip and hig; on the first `gradient_batch` samples of a
    # batch (0: all)
    gradient_weight: float = 0.0
    gradient_batch: int = 0
    outputs: str = "drag"  # OUTPUT_SETS: the physics loss of dp/sip/hig over (Cd, Cl) or every output of P
    sip_eta: float = 1.0
    sip_eps: float = 1e-6
    hig_tau: float = 1e-6
    eval_every: int = 250
    checkpoint_s: float = 60.0
    device: str = "cpu"
    max_seconds: float | None = None  # stop after this much training time; the learning rate decays over it
    clock: str = "wall"  # what max_seconds and logged times count: "wall" time or this process's "cpu" time

    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else DEFAULT_LR[self.method]
