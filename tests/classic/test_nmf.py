"""NMF by multiplicative updates equals scikit-learn's solver="mu" from the same start."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sliceq22.classic import NMF, beta_divergence, nmf

sk = pytest.importorskip("sklearn.decomposition")
from sklearn.decomposition._nmf import _beta_divergence  # noqa: E402


def _data(seed=0, F=30, T=40, K=4):
    rng = np.random.default_rng(seed)
    V = rng.random((F, K)) @ rng.random((K, T)) + 0.05 * rng.random((F, T))
    W0 = rng.random((F, K)) + 0.1
    H0 = rng.random((K, T)) + 0.1
    return V, W0, H0


@pytest.mark.parametrize("beta", [2.0, 1.0, 0.0, 0.5, 3.0])
def test_same_factors_as_sklearn(beta):
    V, W0, H0 = _data()
    model = sk.NMF(n_components=4, solver="mu", beta_loss=beta, init="custom", max_iter=60, tol=0.0)
    W_ref = model.fit_transform(V, W=W0.copy(), H=H0.copy())
    H_ref = model.components_
    W, H = nmf(torch.from_numpy(V), 4, beta, n_iter=60, W=torch.from_numpy(W0), H=torch.from_numpy(H0))
    np.testing.assert_allclose(W.numpy(), W_ref, rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(H.numpy(), H_ref, rtol=1e-7, atol=1e-12)
    ours = beta_divergence(torch.from_numpy(V), W, H, beta).item()
    theirs = _beta_divergence(V, W_ref, H_ref, beta)
    assert ours == pytest.approx(theirs, rel=1e-6)


def test_objective_decreases_batched_and_dtype():
    V = torch.from_numpy(np.stack([_data(s)[0] for s in range(3)])).float()
    g = torch.Generator().manual_seed(0)
    W, H = nmf(V, 4, "kl", n_iter=1, generator=g)
    first = beta_divergence(V, W, H, 1)
    W, H = nmf(V, 4, "kl", n_iter=100, W=W, H=H)
    assert W.dtype == torch.float32 and W.shape == (3, 30, 4) and H.shape == (3, 4, 40)
    assert (beta_divergence(V, W, H, 1) < 0.1 * first).all()
    W1, H1 = nmf(V[1], 4, "kl", n_iter=5, W=W[1], H=H[1])
    Wb, Hb = nmf(V, 4, "kl", n_iter=5, W=W, H=H)
    torch.testing.assert_close(Wb[1], W1)
    torch.testing.assert_close(Hb[1], H1)


def test_fixed_bases_recover_activations():
    rng = np.random.default_rng(5)
    W_true = torch.from_numpy(rng.random((20, 3)) + 0.1)
    H_true = torch.from_numpy(rng.random((3, 50)))
    V = W_true @ H_true
    W, H = NMF(rank=3, beta=2, n_iter=2000, bases=W_true)(V)
    assert torch.equal(W, W_true)
    assert ((W @ H - V).norm() / V.norm()).item() < 1e-3
    torch.testing.assert_close(H, H_true, atol=2e-2, rtol=0)  # MU creeps slowly towards zero entries


def test_errors():
    with pytest.raises(ValueError, match="non-negative"):
        nmf(-torch.ones(3, 3), 2)
    with pytest.raises(ValueError, match="strictly positive"):
        nmf(torch.zeros(3, 3), 2, beta="is")
    with pytest.raises(ValueError, match="needs the bases"):
        nmf(torch.ones(3, 3), 2, fix_W=True)
    with pytest.raises(ValueError, match="unknown beta"):
        nmf(torch.ones(3, 3), 2, beta="cosine")
    with pytest.raises(ValueError, match="rank must be"):
        nmf(torch.ones(3, 3), 0)
    with pytest.raises(ValueError, match="n_iter must be"):
        nmf(torch.ones(3, 3), 2, n_iter=-1)
    with pytest.raises(ValueError, match="initial W must be finite and non-negative"):
        nmf(torch.ones(3, 3), 2, W=-torch.ones(3, 2))
    with pytest.raises(ValueError, match="not the complex STFT"):
        nmf(torch.ones(3, 3, dtype=torch.complex64), 2)
    W, H = nmf(np.ones((4, 5)), 2, n_iter=3)  # numpy in
    assert W.shape == (4, 2) and H.shape == (2, 5)
    V = torch.rand(12, 15, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    V[V < 0.3] = 0
    with pytest.raises(ValueError, match="beta=-0.5 <= 0.*strictly positive"):  # returned factors of 1e19
        nmf(V, 4, beta=-0.5, n_iter=50)
    with pytest.raises(ValueError, match="beta must be a finite"):
        nmf(V, 4, beta=float("nan"))
    with pytest.raises(ValueError, match="leading dims"):  # a raw broadcasting RuntimeError
        nmf(torch.ones(3, 4, 5), 2, W=torch.ones(2, 4, 2))
    with pytest.raises(ValueError, match="complex"):  # cast to real with a warning
        nmf(torch.ones(4, 5), 2, W=torch.ones(4, 2, dtype=torch.complex64))


@pytest.mark.parametrize("beta", [1.0, 0.0, 0.5, 1.5, 3.0])
@pytest.mark.parametrize("scale", [1.0, 1e-8])
def test_beta_divergence_is_sklearns_with_zeros_and_tiny_data(beta, scale):
    """Entries with V <= eps drop out of the V terms as in scikit-learn (a perfect fit with a
    zero of V scored 6.9e-4 for beta = 0.5, and a clamp made tiny IS data score 0)."""
    rng = np.random.default_rng(0)
    V, W, H = rng.random((6, 7)), rng.random((6, 3)), rng.random((3, 7))
    V[V < 0.3], H[0, :2], W[:2] = 0, 0, 0
    if beta == 0:
        V[V == 0] = 0.01
    V, W = V * scale, W * scale
    ours = beta_divergence(torch.from_numpy(V), torch.from_numpy(W), torch.from_numpy(H), beta).item()
    assert ours == pytest.approx(_beta_divergence(V, W, H, beta), rel=1e-12, abs=1e-300)
    V0, W0, H0 = torch.tensor([[0.0, 1.0]], dtype=torch.float64), torch.ones(1, 1, dtype=torch.float64), torch.tensor([[0.0, 1.0]])
    assert beta_divergence(V0, W0, H0.double(), beta).item() == pytest.approx(_beta_divergence(V0.numpy(), W0.numpy(), H0.double().numpy(), beta))


def test_large_cpu_batch_equals_item_by_item():
    """The CPU path that fits large batches item by item gives the batched updates' results."""
    from sliceq22.classic import nmf as nmf_fn

    g = torch.Generator().manual_seed(0)
    V = torch.rand(3, 600, 500, generator=g, dtype=torch.float64)  # 600 * 500 >= 2^18
    W0 = torch.rand(600, 4, generator=g, dtype=torch.float64) + 0.1
    H0 = torch.rand(4, 500, generator=g, dtype=torch.float64) + 0.1
    Wb, Hb = nmf_fn(V, 4, beta=1.0, n_iter=5, W=W0, H=H0)
    for i in range(3):
        Wi, Hi = nmf_fn(V[i], 4, beta=1.0, n_iter=5, W=W0, H=H0)
        torch.testing.assert_close(Wb[i], Wi)
        torch.testing.assert_close(Hb[i], Hi)
