"""The demixing loss: X-UMX's combination loss over ragged blocks, against a direct formula."""

from __future__ import annotations

import itertools

import torch

from sliceq22.lit.demix import combination_loss


def _blocks(shapes, seed, dtype=torch.complex128):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(s, dtype=dtype, generator=g) for s in shapes]


def test_combination_loss_matches_the_direct_formula():
    shapes = [(2, 4, 2, 3, 5, 16), (2, 4, 2, 1, 5, 40)]  # (B, J, ch, bins_g, slices, M_g)
    est, true = _blocks(shapes, 0), _blocks(shapes, 1)
    mix = [t.sum(1) for t in true]
    subsets = [s for k in (1, 2) for s in itertools.combinations(range(4), k)]
    power = sum(m.abs().square().sum() for m in mix) / sum(m.numel() for m in mix)
    terms = []
    for s in subsets:
        e = torch.cat([sum(b[:, j] for j in s).flatten() for b in est])
        t = torch.cat([sum(b[:, j] for j in s).flatten() for b in true])
        terms.append((e.abs() - t.abs()).square().mean())
    expected = torch.stack(terms).mean() / power
    torch.testing.assert_close(combination_loss(est, true, mix, subsets), expected, rtol=1e-12, atol=0)


def test_combination_loss_gradients():
    shapes = [(1, 3, 1, 2, 3, 4)]
    est = [b.requires_grad_() for b in _blocks(shapes, 2)]
    true = _blocks(shapes, 3)
    mix = [t.sum(1) for t in true]
    subsets = [(0,), (1,), (2,), (0, 1), (1, 2)]
    assert torch.autograd.gradcheck(lambda *e: combination_loss(list(e), true, mix, subsets), est)
    assert combination_loss(true, true, mix, subsets).item() == 0.0
