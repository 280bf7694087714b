"""SNPA recovers the planted columns of a noisy separable matrix; greedy fails where seed 002 says."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sliceq22.classic import project_capped_simplex, snpa


def _separable(seed=0, m=40, r=5, n=60, noise=0.01):
    g = torch.Generator().manual_seed(seed)
    W = torch.rand(m, r, generator=g, dtype=torch.float64)
    mix = torch.distributions.Dirichlet(torch.ones(r)).sample((n - r,)).T.double() * 0.9  # interior points
    H = torch.cat((torch.eye(r, dtype=torch.float64), mix), dim=1)
    perm = torch.randperm(n, generator=g)
    M = (W @ H)[:, perm]
    planted = set(int(i) for i in torch.argsort(perm)[:r])
    return (M + noise * torch.rand(M.shape, generator=g, dtype=torch.float64)).clamp_min(0), planted


def test_projection_onto_capped_simplex():
    X = torch.randn(4, 200, dtype=torch.float64) * 2
    P = project_capped_simplex(X)
    assert (P >= 0).all() and (P.sum(0) <= 1 + 1e-12).all()
    # optimality: no feasible random point is closer
    for _ in range(20):
        Q = project_capped_simplex(torch.randn_like(X) * 2)
        assert ((X - P) ** 2).sum(0).le(((X - Q) ** 2).sum(0) + 1e-9).all()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_snpa_recovers_planted_columns(seed):
    M, planted = _separable(seed)
    J, H = snpa(M, 5)
    assert set(J.tolist()) == planted
    rel = ((M - M[:, J] @ H).norm() / M.norm()).item()
    assert rel < 0.05 and (H >= 0).all()


def test_batched_equals_single():
    Ms = torch.stack([_separable(s)[0] for s in range(3)])
    J, H = snpa(Ms, 5)
    for b in range(3):
        Jb, Hb = snpa(Ms[b], 5)
        assert torch.equal(J[b], Jb)
        torch.testing.assert_close(H[b], Hb)


def test_seed_002_triangle_and_centre():
    """Vertices of a triangle and its centre: SNPA finds the vertices, greedy takes the centre first."""
    M = torch.tensor([[1.0, 0, 0, 1 / 3], [0, 1.0, 0, 1 / 3], [0, 0, 1.0, 1 / 3]], dtype=torch.float64)
    J, H = snpa(M, 3)
    assert set(J.tolist()) == {0, 1, 2}
    torch.testing.assert_close(M[:, J] @ H, M, atol=1e-6, rtol=0)
    Jg, _ = snpa(M, 3, greedy=True)
    assert Jg[0].item() == 3


def test_errors():
    with pytest.raises(ValueError, match="non-negative"):
        snpa(-torch.ones(3, 4), 2)
    with pytest.raises(ValueError, match="r must be"):
        snpa(torch.ones(3, 4), 5)
    with pytest.raises(ValueError, match="r must be an integer"):  # a TypeError; True was taken for 1
        snpa(torch.ones(3, 4), 2.5)
    with pytest.raises(ValueError, match="not the complex STFT"):
        snpa(torch.ones(3, 4, dtype=torch.complex64), 2)
    J, H = snpa(np.eye(3), 2)  # numpy in (an AttributeError)
    assert J.shape == (2,) and H.shape == (2, 3)
