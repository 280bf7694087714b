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


def test_long_evaluation_items_go_through_in_chunks(music3):
    """A context-free model (uniform masks: every estimate is mixture / J exactly) scores the
    same whole-track SDR in chunks as in one piece; the chunks tile the item evenly."""
    from sliceq22.lit.demix import DemixModule, sdr
    from sliceq22.models.demix import SliCQDemixer
    from sliceq22.transforms import SliCQT

    SR = 44100
    model = SliCQDemixer(SliCQT(scale="bark", fmin=40.0, fmax=SR / 2, bins=48, sample_rate=SR), hidden=8, dilations=(1,))
    torch.nn.init.zeros_(model.net.out.weight)
    torch.nn.init.zeros_(model.net.out.bias)
    logged = {}
    whole = DemixModule(model, optimizer=None, eval_chunk_seconds=None)
    chunked = DemixModule(model, optimizer=None, eval_chunk_seconds=0.7)
    for m in (whole, chunked):
        m.log_dict = lambda d, **kw: logged.update({k: float(v) for k, v in d.items()})
    x = music3[:, : 2 * SR].float()
    targets = torch.stack([x * g for g in (0.1, 0.2, 0.3, 0.4)])[None]  # (1, J, ch, n)
    batch = (targets.sum(1), targets)
    assert chunked._chunks(2 * SR, "val") == [(0, 29400), (29400, 58800), (58800, 88200)]
    assert chunked._chunks(2 * SR, "train") == [(0, 2 * SR)]
    with torch.no_grad():
        loss_whole = whole._step(batch, "val")
        sdr_whole = dict(logged)
        loss_chunked = chunked._step(batch, "val")
    expected = sdr(targets, targets.sum(1, keepdim=True).expand_as(targets) / 4)[0]
    for j, t in enumerate(model.targets):
        assert abs(sdr_whole[f"val/sdr/{t}"] - float(expected[j])) < 1e-3
        assert abs(logged[f"val/sdr/{t}"] - float(expected[j])) < 1e-3
    assert abs(float(loss_chunked) - float(loss_whole)) < 0.1 * abs(float(loss_whole))  # tf: other coefficients, same scale


def test_combination_sizes():
    """True keeps singles and pairs (the configs' default); an integer k takes every subset of
    1..k targets, k = J - 1 being X-UMX's full combination loss (14 subsets of four targets)."""
    import pytest

    from sliceq22.lit.demix import DemixModule
    from sliceq22.models.demix import SliCQDemixer
    from sliceq22.transforms import SliCQT

    model = SliCQDemixer(SliCQT("bark", 40.0, 22050.0, 24, 44100), hidden=4, dilations=(1,))
    count = lambda c: len(DemixModule(model, optimizer=None, combination=c).subsets)  # noqa: E731
    assert (count(False), count(True), count(2), count(3), count(9)) == (4, 10, 10, 14, 14)
    with pytest.raises(ValueError, match="combination must be"):
        DemixModule(model, optimizer=None, combination=0)
