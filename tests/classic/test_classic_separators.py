"""Supervised NMF under the separation contract: beats the mixture on held-out music."""

from __future__ import annotations

import pytest
import torch

from sliceq22.classic.separation import SupervisedNMF
from sliceq22.eval.separation import evaluate_separator, median_sdr
from sliceq22.separator import MixtureAsEstimate, Separator
from sliceq22.transforms import STFT, SliCQT


@pytest.fixture(scope="module")
def fitted(embedded_root):
    return SupervisedNMF.from_dataset(embedded_root, STFT(2048, 512), rank=6, n_iter=40, fit_seconds=3.0)


def test_bases_and_contract(fitted, music3):
    assert isinstance(fitted, Separator) and not fitted.needs_references
    assert fitted.bases.shape == (4, 1025, 6)
    torch.testing.assert_close(fitted.bases.sum(1), torch.ones(4, 6))
    mix = music3[:, :44100].float()
    out = fitted.separate(mix)
    assert list(out) == ["drums", "bass", "other", "vocals"]
    total = sum(out.values())
    assert all(y.shape == mix.shape for y in out.values())
    assert (total - mix).norm() / mix.norm() < 1e-4  # soft masks sum to one
    torch.rand(3)  # whatever the global RNG did in between, the same mixture separates the same
    again = fitted.separate(mix)
    assert all(torch.equal(again[t], out[t]) for t in out)


def test_beats_the_mixture_on_held_out_tracks(fitted, embedded_root, tmp_path):
    ours = evaluate_separator(fitted, embedded_root, str(tmp_path / "nmf"))
    floor = evaluate_separator(MixtureAsEstimate(), embedded_root, str(tmp_path / "mix"))
    assert median_sdr(ours) > median_sdr(floor) + 3


def test_refuses_what_it_cannot_do():
    with pytest.raises(ValueError, match="STFT"):
        SupervisedNMF(SliCQT(scale="log", fmin=50.0, fmax=22050.0, bins=24, sample_rate=44100))
    with pytest.raises(RuntimeError, match="no bases"):
        SupervisedNMF(STFT(1024)).separate(torch.randn(2, 4096))
    with pytest.raises(ValueError, match="no training audio"):
        SupervisedNMF(STFT(1024), targets=("a",)).fit({"a": []})


def test_ilrma_separator_on_a_panned_pair():
    """Two sources panned apart (an instantaneous determined mixture): ILRMA separates them and
    the permutation is solved with the references."""
    from sliceq22.classic.separation import ILRMASeparator

    g = torch.Generator().manual_seed(1)
    n = 44100
    t = torch.arange(n) / 44100
    s1 = torch.sin(2 * torch.pi * 330 * t) * (torch.rand(n, generator=g) * 0 + ((t * 4) % 1 < 0.5))
    s2 = 0.3 * torch.randn(n, generator=g)
    refs = {"vocals": torch.stack([0.9 * s1, 0.3 * s1]).double(), "accompaniment": torch.stack([0.2 * s2, 0.8 * s2]).double()}
    mix = refs["vocals"] + refs["accompaniment"]
    sep = ILRMASeparator(STFT(1024, 256), n_iter=30)
    out = sep.separate(mix, refs)
    for k in refs:
        snr = 10 * torch.log10(refs[k].square().sum() / (refs[k] - out[k]).square().sum())
        assert snr > 15, (k, float(snr))
    with pytest.raises(ValueError, match="as many sources as channels"):
        sep.separate(mix[:1], {k: v[:1] for k, v in refs.items()})
