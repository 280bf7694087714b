"""The overlap-add operator, its adjoint and pseudo-inverse are what they claim to be."""

from __future__ import annotations

import pytest
import torch

from sliceq22.transforms import overlap_add, overlap_add_adjoint, overlap_add_pinv


@pytest.mark.parametrize("slices,m", [(1, 8), (2, 4), (7, 16), (12, 30)])
def test_adjoint_identity(slices, m):
    x = torch.randn(3, 5, slices, m, dtype=torch.float64)
    y = torch.randn(3, 5, (slices + 1) * m // 2, dtype=torch.float64)
    lhs = (overlap_add(x) * y).sum()
    rhs = (x * overlap_add_adjoint(y, m)).sum()
    torch.testing.assert_close(lhs, rhs)


def test_matches_explicit_matrix():
    slices, m = 5, 6
    eye = torch.eye(slices * m, dtype=torch.float64).reshape(-1, slices, m)
    A = overlap_add(eye).T  # (frames, slices*m)
    assert A.shape == ((slices + 1) * m // 2, slices * m)
    assert set(A.sum(1).tolist()) == {1.0, 2.0}
    y = torch.randn((slices + 1) * m // 2, dtype=torch.float64)
    torch.testing.assert_close(overlap_add_pinv(y, m).flatten(), torch.linalg.pinv(A) @ y)
    torch.testing.assert_close(overlap_add_adjoint(y, m).flatten(), A.T @ y)


def test_pinv_is_a_right_inverse_and_complex_works():
    y = torch.randn(2, 9 * 8, dtype=torch.complex128)
    torch.testing.assert_close(overlap_add(overlap_add_pinv(y, 16)), y)


def test_errors():
    with pytest.raises(ValueError, match="even"):
        overlap_add(torch.zeros(3, 5))
    with pytest.raises(ValueError, match="frames"):
        overlap_add_adjoint(torch.zeros(13), 8)
