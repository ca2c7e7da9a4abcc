"""Which device a run uses: a check before any work, and the hardware a card records."""

from __future__ import annotations

import platform

import torch


def check_device(device: str) -> None:
    """A ValueError naming the fix when CUDA is asked for on a machine without it (before any work)."""
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA GPU is available here; use --device cpu")


def hardware(device: str) -> str:
    """The processor (and GPU) a run used, as its card records it."""
    cpu = f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    if device.startswith("cuda"):
        return f"{torch.cuda.get_device_name(torch.device(device))} ({cpu})"
    return f"{cpu}, cpu"
