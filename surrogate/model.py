"""The surrogate network f_theta: (a shape on the window, Re) -> the steady state (u, v, p) on the window.

Inputs, per cell of the window: the signed distance to the outline (differentiable in the shape's points), a
volume-fraction-like mask (a ramp of the signed distance one cell wide), log Re normalised, and the cell's x
and y (CoordConv: the far field differs up- and downstream). A small U-Net without normalisation layers (so
that HIG's per-sample Jacobians vmap) maps them to three channels, turned into the physical state by a fixed
output normalisation:
    u = (1 - mask) (1 + s_u o_u),  v = (1 - mask) s_v o_v,  p = s_p o_p (1 + 5 / Re)
The velocity vanishes inside the body by construction, and p / (1 + 5/Re) stays of order one over Re 1-40 (the
pressure scales like 1/Re in Stokes flow and like U^2 at higher Re). s_u, s_v, s_p are standard deviations of
the training split's targets, stored with the model.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from geometry.raster import signed_distance_fast
from surrogate.window import Window

P_SCALE_RE = 5.0  # p / (1 + 5/Re) is of order one from Stokes flow to Re 40


@dataclass
class Config:
    base: int = 24  # channels at full resolution; doubled at each level
    depth: int = 3  # 64 -> 32 -> 16 -> 8
    window: dict = field(default_factory=lambda: Window().to_dict())
    log_re_mean: float = math.log(6.3)
    log_re_std: float = 1.1
    s_u: float = 0.3
    s_v: float = 0.2
    s_p: float = 0.5

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Config:
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        return cls(**known)


def shape_channels(points: torch.Tensor, window: Window) -> torch.Tensor:
    """(B, 2, n, n): signed distance (in D) and the mask clamp(1/2 - sd / h, 0, 1), for outlines (B, K, 2)."""
    c = torch.as_tensor(window.centres(), dtype=points.dtype, device=points.device)
    X, Y = torch.meshgrid(c, c, indexing="ij")
    q = torch.stack([X.reshape(-1), Y.reshape(-1)], 1)
    n = window.cells
    sd = torch.stack([signed_distance_fast(p, q).reshape(n, n) for p in points])
    mask = torch.clamp(0.5 - sd / window.h, 0.0, 1.0)
    return torch.stack([sd, mask], 1)


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1), nn.GELU(), nn.Conv2d(cout, cout, 3, padding=1), nn.GELU()
    )


class UNet(nn.Module):
    """A plain U-Net: `depth` poolings, channels base * 2^level, skip connections by concatenation."""

    def __init__(self, cin: int, cout: int, base: int, depth: int):
        super().__init__()
        ch = [base * 2**k for k in range(depth + 1)]
        self.down = nn.ModuleList([_block(cin, ch[0])] + [_block(ch[k], ch[k + 1]) for k in range(depth)])
        self.up = nn.ModuleList([nn.ConvTranspose2d(ch[k + 1], ch[k], 2, stride=2) for k in range(depth)])
        self.dec = nn.ModuleList([_block(2 * ch[k], ch[k]) for k in range(depth)])
        self.head = nn.Conv2d(ch[0], cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for k, block in enumerate(self.down):
            x = block(x if k == 0 else nn.functional.avg_pool2d(x, 2))
            skips.append(x)
        x = skips.pop()
        for k in reversed(range(len(self.up))):
            x = self.dec[k](torch.cat([self.up[k](x), skips.pop()], 1))
        return self.head(x)


class Surrogate(nn.Module):
    """f_theta(points, re) -> state (B, 3, n, n); `features` and `decode` split it for training on cached
    inputs."""

    def __init__(self, config: Config):
        super().__init__()
        self.config = config
        self.window = Window.from_dict(config.window)
        self.net = UNet(5, 3, config.base, config.depth)
        c = torch.as_tensor(self.window.centres(), dtype=torch.float32) / self.window.extent
        X, Y = torch.meshgrid(c, c, indexing="ij")
        self.register_buffer("coords", torch.stack([X, Y]), persistent=False)

    def inputs(self, points: torch.Tensor, re: torch.Tensor) -> torch.Tensor:
        """The network's input (B, 5, n, n) from outlines (B, K, 2) and Reynolds numbers (B,)."""
        geo = shape_channels(points.to(self.coords.dtype), self.window)
        return self.assemble(geo, re)

    def assemble(self, geo: torch.Tensor, re: torch.Tensor) -> torch.Tensor:
        b, n = geo.shape[0], self.window.cells
        lr = torch.log(torch.as_tensor(re, dtype=geo.dtype, device=geo.device)) - self.config.log_re_mean
        lr = (lr / self.config.log_re_std).reshape(b, 1, 1, 1).expand(b, 1, n, n)
        return torch.cat([geo, lr, self.coords.to(geo.device, geo.dtype).expand(b, 2, n, n)], 1)

    def decode(self, o: torch.Tensor, inp: torch.Tensor, re: torch.Tensor) -> torch.Tensor:
        """Network output (B, 3, n, n) -> physical state; inp gives the mask (channel 1)."""
        cfg = self.config
        fluid = 1.0 - inp[:, 1]
        re = torch.as_tensor(re, dtype=o.dtype, device=o.device).reshape(-1, 1, 1)
        u = fluid * (1.0 + cfg.s_u * o[:, 0])
        v = fluid * cfg.s_v * o[:, 1]
        p = cfg.s_p * o[:, 2] * (1.0 + P_SCALE_RE / re)
        return torch.stack([u, v, p], 1)

    def encode(self, state: torch.Tensor, re: torch.Tensor) -> torch.Tensor:
        """The inverse of decode outside the body: the normalised targets of a physical state."""
        cfg = self.config
        re = torch.as_tensor(re, dtype=state.dtype, device=state.device).reshape(-1, 1, 1)
        return torch.stack(
            [
                (state[:, 0] - 1.0) / cfg.s_u,
                state[:, 1] / cfg.s_v,
                state[:, 2] / (cfg.s_p * (1 + P_SCALE_RE / re)),
            ],
            1,
        )

    def forward_inputs(self, inp: torch.Tensor, re: torch.Tensor) -> torch.Tensor:
        return self.decode(self.net(inp), inp, re)

    def forward(self, points: torch.Tensor, re: torch.Tensor) -> torch.Tensor:
        return self.forward_inputs(self.inputs(points, re), re)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
