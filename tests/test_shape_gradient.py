"""The shape-gradient term: the surrogate's directional derivative against finite differences of the surrogate
itself, the loss against its definition, and a training step that learns from it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geometry import parse_shape
from geometry.sampler import canonical
from sim.adjoint import hat_matrix, outward_normals
from surrogate import physics
from surrogate import shape_gradient as sg
from surrogate.model import Config, Surrogate


@pytest.fixture(scope="module")
def model() -> Surrogate:
    torch.manual_seed(0)
    return Surrogate(Config(base=8)).double()


@pytest.mark.parametrize("spec", ["ellipse:2", "naca:2412", "naca:0006"])
def test_the_directional_derivative_matches_finite_differences_of_the_surrogate(model, spec):
    """Moving the outline along its normals by a smooth displacement given at the stations changes the
    surrogate's Cd and Cl as the forward-mode pass through the input's tangent says."""
    w = model.window
    pts = canonical(parse_shape(spec).points)  # as a dataset stores it
    pts = pts / w.scale(pts)  # as the window shows it (the NACA 0006 shrunk)
    re = torch.tensor([10.0], dtype=torch.float64)
    inp = model.inputs(torch.as_tensor(pts)[None], re)
    arc = sg.arc_maps(torch.as_tensor(pts)[None], w)
    basis = sg.smooth_basis(64)
    for row in (1, 4, 10):
        v = basis[row][None]
        _, d = sg.directional(model, inp, sg.input_tangent(arc, inp[:, 0], v, w.h), re)
        disp = outward_normals(pts) * (hat_matrix(pts, 64) @ v[0].numpy())[:, None]

        def drag_lift(eps: float, disp: np.ndarray = disp) -> torch.Tensor:
            x = model(torch.as_tensor(pts + eps * disp)[None], re)
            return physics.drag_lift_on(x, re, w)[0]

        fd = ((drag_lift(1e-4) - drag_lift(-1e-4)) / 2e-4).detach()
        assert torch.linalg.norm(d[0].detach() - fd) <= 5e-3 * torch.linalg.norm(fd), (row, d, fd)


def test_the_loss_is_the_relative_squared_distance_on_the_smooth_modes(model):
    """The random directions' mean squared difference tends to |B (g - g*)|^2 / |B g*_Cd|^2."""
    w = model.window
    pts = torch.as_tensor(canonical(parse_shape("ellipse:2").points))[None]
    re = torch.tensor([5.0], dtype=torch.float64)
    inp = model.inputs(pts, re)
    arc = sg.arc_maps(pts, w)
    modes = sg.mode_gradients(model, inp, re, arc, 64)[0]  # (2, 16): the surrogate's own
    basis = sg.smooth_basis(64)
    g = torch.randn(1, 2, 64, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    expected = ((modes - g[0] @ basis.T) ** 2).sum() / ((g[0, 0] @ basis.T) ** 2).sum()
    n = 400
    loss = sg.gradient_loss(
        model,
        inp.expand(n, -1, -1, -1),
        re.expand(n),
        arc.expand(n, -1, -1, -1),
        g.expand(n, -1, -1),
        torch.Generator().manual_seed(2),
    )
    assert float(loss) == pytest.approx(float(expected), rel=0.2)
    # a sample without sensitivities (an older dataset) adds nothing
    none = torch.full_like(g, float("nan"))
    assert float(sg.gradient_loss(model, inp, re, arc, none, torch.Generator())) == 0.0


def test_a_few_steps_on_the_term_bring_the_surrogates_gradient_to_the_stored_one():
    torch.manual_seed(0)
    m = Surrogate(Config(base=8))
    w = m.window
    pts = torch.as_tensor(np.stack([canonical(parse_shape(s).points) for s in ("ellipse:2", "naca:0030")]))
    re = torch.tensor([5.0, 20.0])
    inp = m.inputs(pts.float(), re)
    arc = sg.arc_maps(pts, w)
    basis = sg.smooth_basis(64)
    g = torch.stack(  # a smooth target on the modes, as an adjoint's would be
        [torch.stack([basis[0] * 0.02 + basis[9] * 0.01, basis[8] * 0.03]) for _ in range(2)]
    ).float()

    def cos() -> np.ndarray:
        return sg.cosines(sg.mode_gradients(m, inp, re, arc, 64)[:, 0], g[:, 0])

    before = cos()
    opt = torch.optim.Adam(m.net.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(0)
    for _ in range(60):
        opt.zero_grad()
        sg.gradient_loss(m, inp, re, arc, g, gen).backward()
        opt.step()
    after = cos()
    assert (after > before + 0.1).all(), (before, after)
