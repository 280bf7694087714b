"""DTW equals librosa's (costs and paths), batches, fails clearly; soft-DTW's gradient is exact."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sliceq22.classic import DTW, cosine_cost, dtw, euclidean_cost, soft_dtw

librosa = pytest.importorskip("librosa")

SEED_STEPS = [[1, 1], [1, 2], [2, 1]]
SEED_WEIGHTS = [2, 3, 3]


def _ref(C, steps=None, weights=None, subseq=False):
    kw = {} if steps is None else dict(step_sizes_sigma=np.array(steps), weights_mul=np.array(weights, dtype=float))
    D, wp = librosa.sequence.dtw(C=C, subseq=subseq, **kw)
    return D, wp[::-1].T  # increasing order, (2, L)


CASES = [
    (steps, weights, subseq, shape)
    for steps, weights in [(None, None), (SEED_STEPS, SEED_WEIGHTS), ([[1, 1], [1, 0], [0, 1]], [1, 1, 2])]
    for subseq in (False, True)
    for shape in [(17, 23), (30, 30), (12, 40)]
    # a full path with slope-limited steps needs M < 2N (the no-path error is tested below)
    if subseq or steps != SEED_STEPS or shape[1] <= 2 * shape[0] - 1
]


def _backends():
    try:
        import numba  # noqa: F401
    except ImportError:
        return ["torch", pytest.param("numba", marks=pytest.mark.skip(reason="numba not installed"))]
    return ["torch", "numba"]


@pytest.mark.parametrize("backend", _backends())
@pytest.mark.parametrize("steps,weights,subseq,shape", CASES)
def test_matches_librosa(steps, weights, subseq, shape, backend):
    rng = np.random.default_rng(sum(shape) + subseq)
    C = rng.random(shape)
    D_ref, wp_ref = _ref(C, steps, weights, subseq)
    D, path = dtw(torch.from_numpy(C), steps, weights, subsequence=subseq, backend=backend)
    assert D.dtype == torch.float64
    np.testing.assert_array_equal(D.numpy(), D_ref)  # bit for bit, inf included
    np.testing.assert_array_equal(path.numpy(), wp_ref)


@pytest.mark.parametrize("backend", _backends())
def test_ties_resolve_like_librosa(backend):
    C = np.ones((6, 6))  # every step ties everywhere
    for steps, weights in [(None, None), (SEED_STEPS, [1, 1, 1])]:
        D_ref, wp_ref = _ref(C, steps, weights)
        D, path = dtw(torch.from_numpy(C), steps, weights, backend=backend)
        np.testing.assert_array_equal(D.numpy(), D_ref)
        np.testing.assert_array_equal(path.numpy(), wp_ref)


def test_batched_equals_single_and_keeps_dtype():
    rng = np.random.default_rng(0)
    C = torch.from_numpy(rng.random((2, 3, 15, 25))).float()
    D, paths = dtw(C, SEED_STEPS, SEED_WEIGHTS, subsequence=True)
    assert D.dtype == torch.float32 and D.shape == C.shape and len(paths) == 6
    for b in range(6):
        Db, pb = dtw(C.reshape(6, 15, 25)[b], SEED_STEPS, SEED_WEIGHTS, subsequence=True)
        torch.testing.assert_close(D.reshape(6, 15, 25)[b], Db)
        assert torch.equal(paths[b], pb)
    D2, p2 = DTW(SEED_STEPS, SEED_WEIGHTS, subsequence=True)(C[0, 0])
    torch.testing.assert_close(D2, D[0, 0])


@pytest.mark.parametrize("backend", _backends()[1:])
def test_compiled_and_torch_paths_agree_bit_for_bit(backend):
    rng = np.random.default_rng(3)
    C = torch.from_numpy(rng.random((4, 40, 70))).float()
    C[1, 5:9, 10:30] = float("inf")  # unreachable cells and inf * weight on both paths
    for steps, weights, sub in [(SEED_STEPS, SEED_WEIGHTS, True), (None, None, False), (None, [1, 0, 2], True)]:
        Dt, pt = dtw(C, steps, weights, subsequence=sub, backend="torch")
        Dn, pn = dtw(C, steps, weights, subsequence=sub, backend=backend)
        assert Dn.dtype == torch.float32
        assert torch.equal(Dt, Dn) and all(torch.equal(a, b) for a, b in zip(pt, pn))
    with pytest.raises(ValueError, match="backend"):
        dtw(C, backend="cuda-magic")


@pytest.mark.parametrize("backend", _backends()[1:])
def test_low_memory_mode_gives_the_same_paths_and_end_costs(backend):
    rng = np.random.default_rng(4)
    C = torch.from_numpy(rng.random((3, 50, 90)))
    for steps, weights, sub in [(SEED_STEPS, SEED_WEIGHTS, True), (SEED_STEPS, SEED_WEIGHTS, False), (None, None, False), (None, [1, 2, 1], True)]:
        D, p = dtw(C, steps, weights, subsequence=sub)
        last, q = dtw(C, steps, weights, subsequence=sub, memory="low")
        assert last.shape == (3, 90) and last.dtype == C.dtype
        assert torch.equal(last, D[:, -1]) and all(torch.equal(a, b) for a, b in zip(p, q))
    with pytest.raises(ValueError, match="memory='low'"):
        dtw(C, memory="low", backend="torch")
    with pytest.raises(ValueError, match="beyond the steps' slope"):
        dtw(torch.rand(5, 20), SEED_STEPS, SEED_WEIGHTS, memory="low")


def test_no_path_and_bad_input_errors():
    C = torch.rand(5, 20)
    with pytest.raises(ValueError, match="beyond the steps' slope"):
        dtw(C, SEED_STEPS, SEED_WEIGHTS)
    with pytest.raises(ValueError, match="NaN"):
        dtw(torch.full((3, 3), float("nan")))
    with pytest.raises(ValueError, match="weights"):
        dtw(C, SEED_STEPS, [1, 2])
    with pytest.raises(ValueError, match="never advance"):
        dtw(C, [[0, 0], [1, 1]])
    with pytest.raises(ValueError, match=">= 0"):
        dtw(C, [[-1, 1]])
    with pytest.raises(ValueError, match="at least one"):
        dtw(C, [])
    with pytest.raises(ValueError, match="NaN or -inf"):
        dtw(torch.rand(4, 4), weights=[1.0, float("nan"), 1.0])
    blocked = torch.rand(6, 6)
    blocked[:, 0] = torch.inf  # no path can leave (0, 0)
    with pytest.raises(ValueError, match="infinite cost"):
        dtw(blocked[1:])
    minus = torch.rand(4, 4)
    minus[2, 1] = -torch.inf
    with pytest.raises(ValueError, match="-inf"):
        dtw(minus)
    D16, p16 = dtw(torch.rand(6, 7, generator=torch.Generator().manual_seed(0)).to(torch.bfloat16))
    assert D16.dtype == torch.float32 and p16.shape[0] == 2
    with pytest.raises(ValueError, match="NaN or infinite"):
        soft_dtw(torch.full((3, 3), float("nan")))
    assert torch.isfinite(soft_dtw(np.random.default_rng(0).random((4, 5))))  # numpy works, as for dtw


def test_costs_handle_silent_frames():
    X = torch.rand(12, 8)
    Y = torch.rand(12, 9)
    X[:, 3] = 0
    Cc = cosine_cost(X, Y)
    assert torch.isfinite(Cc).all() and torch.allclose(Cc[3], torch.ones(9))
    ref = 1 - librosa.util.normalize(X.numpy(), norm=2, axis=0).T @ librosa.util.normalize(Y.numpy(), norm=2, axis=0)
    np.testing.assert_allclose(Cc.numpy(), ref, atol=1e-6)
    from scipy.spatial.distance import cdist

    np.testing.assert_allclose(euclidean_cost(X, Y).numpy(), cdist(X.T.numpy(), Y.T.numpy()), atol=1e-5)


def test_soft_dtw_limits_and_gradient():
    rng = np.random.default_rng(3)
    C = torch.from_numpy(rng.random((2, 6, 7)))
    # gamma -> 0: the DTW cost with steps (1,0), (0,1), (1,1) and unit weights
    hard = dtw(C[0], [[1, 1], [1, 0], [0, 1]], [1, 1, 1], backtrack=False)[-1, -1]
    assert soft_dtw(C[0], gamma=1e-4).item() == pytest.approx(hard.item(), abs=1e-3)
    assert soft_dtw(C[0], gamma=1.0) < hard  # soft-min is below the min
    Cg = C.clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda c: soft_dtw(c, 0.5), (Cg,))
    E = torch.autograd.grad(soft_dtw(Cg, 0.01).sum(), Cg)[0]
    # the expected alignment of a near-hard soft-DTW puts ~1 on each cell of the DTW path
    _, path = dtw(C[0], [[1, 1], [1, 0], [0, 1]], [1, 1, 1])
    assert E[0][path[0], path[1]].min() > 0.9 and E[0].sum() == pytest.approx(path.shape[1], abs=0.2)


@pytest.mark.parametrize("backend", _backends())
def test_infinite_weights_disable_a_step_like_librosa(backend):
    C = np.random.default_rng(3).random((12, 9))
    steps = [[1, 1], [0, 1], [1, 0]]
    for wa in ([0.0, np.inf, 0.0], [np.inf, 0.0, 0.0]):
        D_ref, wp = librosa.sequence.dtw(C=C, step_sizes_sigma=np.array(steps), weights_add=np.array(wa), weights_mul=np.ones(3))
        D, path = dtw(torch.from_numpy(C), steps, weights_add=wa, backend=backend)
        np.testing.assert_allclose(D.numpy(), D_ref)
        np.testing.assert_array_equal(path.numpy(), wp[::-1].T)


def test_malformed_steps_and_weights_are_refused():
    C = torch.rand(12, 8, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"\(k, 2\) array.*shape \(2, 3\)"):  # was read as other steps
        dtw(C, np.array(SEED_STEPS).T, SEED_WEIGHTS)
    with pytest.raises(ValueError, match="whole numbers"):
        dtw(C, [[1.5, 1], [0, 1], [1, 0]])
    with pytest.raises(ValueError, match="NaN or -inf"):
        dtw(C, weights_add=[0.0, -np.inf, 0.0])


def test_a_batch_item_without_a_path_is_named():
    C = torch.rand(3, 12, 9, dtype=torch.float64)
    C[2] = torch.inf
    with pytest.raises(ValueError, match="batch item 2"):
        dtw(C)


def test_soft_dtw_float32_gradients_at_large_cost_over_gamma():
    """In float32, exp of round-off-positive exponents gave gradients of 80 or NaN; the
    expected alignment lies in [0, 1]."""
    C = torch.rand(100, 100, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 1e5
    c32, c64 = C.float().requires_grad_(), C.float().double().requires_grad_()  # the same (rounded) costs
    v32 = soft_dtw(c32, 1e-3)
    v32.backward()
    soft_dtw(c64, 1e-3).backward()
    assert v32.dtype == torch.float32 and c32.grad.dtype == torch.float32
    assert torch.isfinite(c32.grad).all() and c32.grad.min() >= 0 and c32.grad.max() <= 1
    torch.testing.assert_close(c32.grad.double(), c64.grad, rtol=0, atol=1e-7)


def test_soft_dtw_refuses_what_it_cannot_do():
    C = torch.rand(4, 5, dtype=torch.float64, requires_grad=True)
    for gamma in (float("nan"), float("inf"), 0.0):
        with pytest.raises(ValueError, match="gamma must be a finite number > 0"):
            soft_dtw(C, gamma)
    (g,) = torch.autograd.grad(soft_dtw(C, 0.5), C, create_graph=True)
    with pytest.raises(RuntimeError):  # second derivatives were silently wrong (gradgradcheck failed)
        g.sum().backward()
