"""Every member of an ensemble on the same shapes in one pass.

The members share a window, so the shapes are rasterised once (the signed distance and mask: the costly part
of the input, the only one that depends on the shape) and each member's network runs on it; the members'
states come back stacked. Networks prepared for inference keep their weights in channels-last memory order,
which oneDNN's convolutions run faster on the CPU (docs/inverse-design.md). Stacking the members' parameters
and vmapping one network over them gives the same numbers and no further speed on the CPU: the convolutions
dominate either way.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from surrogate.model import Surrogate, shape_channels


def for_inference(models: Sequence[Surrogate]) -> list[Surrogate]:
    """The networks frozen (gradients flow to the shapes only), in evaluation mode and channels-last order."""
    for m in models:
        m.eval()
        m.net.to(memory_format=torch.channels_last)
        for p in m.parameters():
            p.requires_grad_(False)
    return list(models)


def states(models: Sequence[Surrogate], points: torch.Tensor, re: torch.Tensor) -> torch.Tensor:
    """(M, B, 3, n, n): each member's predicted state for outlines (B, K, 2) on the window at Reynolds numbers
    (B,); differentiable in the points."""
    geo = shape_channels(points.to(models[0].coords.dtype), models[0].window)
    return torch.stack([m.forward_inputs(m.assemble(geo, re), re) for m in models])
