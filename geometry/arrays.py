"""numpy or torch, one code path for both.

The full simulation runs on numpy arrays, so `dragopt simulate` never imports torch: importing it would cost
more than the rest of the process beside its solve (docs/validation.md, start-up). The adjoint and the
surrogate call the same functions with torch tensors, for gradients, batches and the GPU.

A function written once takes the namespace of its inputs, `xp = namespace(a, b)` (numpy, or torch when any
input is a tensor), and uses the spellings the two share: where, minimum, roll(x, k, axis), stack,
concatenate, sum(x, axis), clip, sqrt, abs, argmin, cumsum, zeros_like, full_like, ones_like, arange,
linspace, finfo, broadcast_to. The few that differ are here. numpy input gives numpy output; torch input (or a
mix) gives torch.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, TypeAlias

import numpy as np

# A numpy array or a torch tensor (or, where a function says so, anything array-like). The functions here
# dispatch on the type at run time, which a static checker cannot follow, so to it the alias is Any.
Array: TypeAlias = Any


def is_tensor(a: object) -> bool:
    """A torch tensor, found without importing torch."""
    return type(a).__module__.partition(".")[0] == "torch"


def namespace(*arrays: object) -> ModuleType:
    """torch when any of `arrays` is a tensor, else numpy."""
    if any(is_tensor(a) for a in arrays):
        import torch

        return torch
    return np


def asarray(a: Array, xp: ModuleType, dtype: Any = None) -> Array:
    """`a` as an array of the namespace xp. Tensors pass through untouched, so their gradients are kept (cast
    to dtype if given); anything else becomes float64 (or dtype): a tensor on the CPU."""
    if xp is np:
        return np.asarray(a, dtype=float if dtype is None else dtype)
    if is_tensor(a):
        return a if dtype is None else a.to(dtype)
    t = xp.as_tensor(np.ascontiguousarray(a, dtype=float))
    return t if dtype is None else t.to(dtype)


def detach(a: Array) -> Array:
    """The value without its gradient history (numpy arrays have none)."""
    return a.detach() if is_tensor(a) else a


def requires_grad(a: Array) -> bool:
    """Whether `a` is a tensor that records gradients."""
    return bool(getattr(a, "requires_grad", False))


def to_numpy(a: Array) -> np.ndarray:
    """A numpy array of the values of `a` (a tensor is detached and moved to the CPU)."""
    return a.detach().cpu().numpy() if is_tensor(a) else np.asarray(a)


def like(a: np.ndarray, *refs: Array) -> Array:
    """The numpy array `a` in the namespace of `refs` (a tensor on the first tensor's device when any is a
    tensor)."""
    tensors = [r for r in refs if is_tensor(r)]
    if tensors:
        import torch

        return torch.as_tensor(a, device=tensors[0].device)
    return a


def amin(a: Array, axis: int) -> Array:
    """Minimum along an axis (torch's min(axis).values: the gradient goes to one element of a tie)."""
    return a.min(axis).values if is_tensor(a) else a.min(axis)


def amax(a: Array, axis: int) -> Array:
    """Maximum along an axis (as `amin`)."""
    return a.max(axis).values if is_tensor(a) else a.max(axis)


def flatnonzero(mask: Array) -> Array:
    """Indices of the true elements of the flattened mask."""
    return mask.flatten().nonzero().flatten() if is_tensor(mask) else np.flatnonzero(mask)


def put(a: Array, index: Array, values: Array) -> Array:
    """A copy of the 1D array `a` with a[index] = values (out of place: differentiable in torch)."""
    if is_tensor(a):
        return a.index_put((index,), values)
    out = a.copy()
    out[index] = values
    return out


def pad(a: Array, widths: tuple[tuple[int, int], ...]) -> Array:
    """Zero padding, widths as numpy's ((before, after) for each axis)."""
    if is_tensor(a):
        import torch

        return torch.nn.functional.pad(a, [w for pair in reversed(widths) for w in pair])
    return np.pad(a, widths)


def searchsorted(sorted_values: Array, values: Array, right: bool = False) -> Array:
    """Insertion indices of `values` in `sorted_values`, left or (with `right`) right of equal ones (numpy's
    side)."""
    if is_tensor(sorted_values):
        import torch

        return torch.searchsorted(sorted_values.contiguous(), values.contiguous(), right=right)
    return np.searchsorted(sorted_values, values, side="right" if right else "left")


def norm_rows(a: Array) -> Array:
    """Euclidean norm of each row of (..., 2) vectors."""
    xp = namespace(a)
    return xp.linalg.norm(a, axis=-1) if xp is np else xp.linalg.norm(a, dim=-1)
