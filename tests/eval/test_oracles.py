"""Oracles: the contract's shapes, and what each mask family must do by construction."""

from __future__ import annotations

import pytest
import torch

from sliceq22.eval.bsseval import sdr_mdx
from sliceq22.eval.oracles import METHODS, Oracle
from sliceq22.separator import MixtureAsEstimate, Separator
from sliceq22.transforms import STFT, SliCQT

SR = 44100


def _transforms():
    return {
        "stft": STFT(2048, 512, sample_rate=SR),
        "slicqt": SliCQT(scale="bark", fmin=40.0, fmax=SR / 2, bins=48, sample_rate=SR),
    }


@pytest.fixture(scope="module")
def parts(music3):
    x = music3[:, : SR * 2]
    return {"a": 0.6 * x, "b": 0.4 * x.roll(7000, -1).flip(0), "c": 0.3 * torch.sin(torch.arange(SR * 2) / 30.0).expand(2, -1).double()}


@pytest.mark.parametrize("kind", ["stft", "slicqt"])
@pytest.mark.parametrize("method", METHODS)
def test_contract_shapes_and_finite(parts, kind, method):
    mix = sum(parts.values())
    sep = Oracle(_transforms()[kind], method, targets=tuple(parts))
    assert isinstance(sep, Separator) and sep.needs_references
    out = sep.separate(mix, parts)
    assert list(out) == list(parts)
    for y in out.values():
        assert y.shape == mix.shape and y.dtype == mix.dtype and torch.isfinite(y).all()


@pytest.mark.parametrize("kind", ["stft", "slicqt"])
@pytest.mark.parametrize("method", ["irm1", "irm2"])
def test_ratio_masks_sum_to_the_mixture(parts, kind, method):
    mix = sum(parts.values())
    out = Oracle(_transforms()[kind], method, targets=tuple(parts)).separate(mix, parts)
    err = (sum(out.values()) - mix).norm() / mix.norm()
    assert err < 1e-4  # masks sum to 1 up to eps in near-silent coefficients


@pytest.mark.parametrize("kind", ["stft", "slicqt"])
def test_mpi_of_the_whole_mixture_is_the_mixture(parts, kind):
    mix = sum(parts.values())
    out = Oracle(_transforms()[kind], "mpi", targets=("all",)).separate(mix, {"all": mix})
    assert (out["all"] - mix).norm() / mix.norm() < 1e-9


@pytest.mark.parametrize("kind", ["stft", "slicqt"])
def test_mwf_separates_differently_panned_sources(kind):
    """Rank-one spatial images in different directions: the multichannel Wiener filter inverts
    the mix almost exactly even where the spectra overlap completely; a ratio mask cannot."""
    g = torch.Generator().manual_seed(0)
    s1, s2 = torch.randn(2, SR, generator=g, dtype=torch.float64)
    refs = {"left": torch.stack([0.9 * s1, 0.2 * s1]), "right": torch.stack([0.3 * s2, 0.8 * s2])}
    mix = refs["left"] + refs["right"]
    names = tuple(refs)
    ref = torch.stack([refs[t].T for t in names])

    def sdr(method):
        out = Oracle(_transforms()[kind], method, targets=names).separate(mix, refs)
        return sdr_mdx(ref, torch.stack([out[t].T for t in names]))

    assert (sdr("mwf") > 40).all()
    assert (sdr("irm2") < 15).all()


def test_binary_masks_select_whole_coefficients(parts):
    t = STFT(2048, 512, sample_rate=SR)
    mix = sum(parts.values())
    out = Oracle(t, "ibm1", targets=tuple(parts)).separate(mix, parts)
    X, Y = t(mix), t(out["a"])
    ratio = (Y.abs() / X.abs().clamp_min(1e-12))[X.abs() > 1e-3 * X.abs().max()]
    near = torch.minimum((ratio - 0).abs(), (ratio - 1).abs())
    assert near.median() < 1e-3  # a binary mask, up to the ISTFT's frame consistency


def test_errors_name_the_problem(parts):
    mix = sum(parts.values())
    sep = Oracle(_transforms()["stft"], "irm1", targets=tuple(parts))
    with pytest.raises(ValueError, match="needs the true targets"):
        sep.separate(mix)
    with pytest.raises(ValueError, match="lack targets"):
        sep.separate(mix, {"a": parts["a"]})
    with pytest.raises(ValueError, match="NaN"):
        sep.separate(mix * torch.nan, parts)
    with pytest.raises(ValueError, match="unknown oracle"):
        Oracle(_transforms()["stft"], "irm3")


def test_mixture_baseline(parts):
    mix = sum(parts.values())
    out = MixtureAsEstimate(("a", "b"), scale=0.5).separate(mix)
    assert torch.equal(out["b"], mix * 0.5)


@pytest.mark.parametrize("method", ["irm1", "irm2", "ibm1", "ibm2"])
def test_masks_do_not_depend_on_the_input_level(parts, method):
    """With an absolute eps IRM2/IBM2 on the sliCQT lost up to 2.3 dB at -100 dB input."""
    mix = sum(parts.values())
    sep = Oracle(_transforms()["slicqt"], method, targets=tuple(parts))
    loud = sep.separate(mix, parts)
    g = 1e-5
    quiet = sep.separate(mix * g, {k: v * g for k, v in parts.items()})
    for k in parts:
        assert ((quiet[k] / g - loud[k]).norm() / loud[k].norm()).item() < 1e-6
