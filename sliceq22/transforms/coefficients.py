"""The sliCQT coefficients: ragged, zero-padded matrix and rasterized matrix forms.

A sliCQT bin ``k`` has ``M_k`` time coefficients per slice; bins with equal ``M_k`` form a
*group*. The ragged form keeps one tensor per group (no padding, no interpolation, what
the transform computes). Two rectangular forms exist for models that want one tensor:

* ``to_matrix()``: every group zero-padded at the end of its slice axis to ``M_max``. Exact,
  trivially inverted by :meth:`SliCQCoefficients.from_matrix`, but the time axis of each row
  means something different per group (the form the first sliCQ networks could not learn).
* ``rasterize()``: every bin *up-sampled* to the finest time grid ``M_max`` (Schörkhuber et
  al. 2014, "full rasterization"): zeros inserted in the middle of each bin's spectrum,
  i.e. band-limited interpolation. This is exactly the transform computed with ``M_max``
  coefficients for every bin (``nsgt``'s ``matrixform=True``), so all rows share one time
  axis. :meth:`SliCQCoefficients.from_rasterized` inverts it exactly on its range (and
  projects any other matrix onto it).
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import Tensor
from torch.utils import _pytree as pytree

from . import fft as _fft

Layout = tuple[tuple[int, int], ...]
"""``((bins_g, M_g), ...)`` for every group, low to high frequency."""


class SliCQCoefficients:
    """Ragged sliCQT coefficients: one tensor per group of bins with equal time resolution.

    Attributes:
        blocks: tuple of tensors, one per group, low to high frequency.

    Shape:
        - ``blocks[g]``: ``(..., bins_g, slices, M_g)``, complex for the transform's output,
          real for magnitudes; the leading dims are those of the input signal minus time.
    """

    __slots__ = ("blocks",)

    def __init__(self, blocks: Sequence[Tensor]):
        self.blocks = tuple(blocks)

    # ----------------------------------------------------------------- properties
    @property
    def layout(self) -> Layout:
        """``((bins_g, M_g), ...)`` of every group."""
        return tuple((b.shape[-3], b.shape[-1]) for b in self.blocks)

    @property
    def num_bins(self) -> int:
        return sum(b.shape[-3] for b in self.blocks)

    @property
    def num_slices(self) -> int:
        return self.blocks[0].shape[-2]

    @property
    def max_slice_len(self) -> int:
        return max(b.shape[-1] for b in self.blocks)

    @property
    def batch_shape(self) -> torch.Size:
        return self.blocks[0].shape[:-3]

    @property
    def dtype(self) -> torch.dtype:
        return self.blocks[0].dtype

    @property
    def device(self) -> torch.device:
        return self.blocks[0].device

    def __len__(self) -> int:
        return len(self.blocks)

    def __iter__(self):
        return iter(self.blocks)

    def __getitem__(self, g: int) -> Tensor:
        return self.blocks[g]

    def __repr__(self) -> str:
        groups = ", ".join(f"{b}x{m}" for b, m in self.layout)
        return (
            f"SliCQCoefficients(batch={tuple(self.batch_shape)}, bins={self.num_bins}, "
            f"slices={self.num_slices}, groups=[{groups}], dtype={self.dtype})"
        )

    # ----------------------------------------------------------------- elementwise
    def map(self, fn: Callable[[Tensor], Tensor]) -> "SliCQCoefficients":
        """Apply ``fn`` to every block (it must keep the last three dimensions)."""
        return SliCQCoefficients([fn(b) for b in self.blocks])

    def abs(self) -> "SliCQCoefficients":
        return self.map(torch.abs)

    def angle(self) -> "SliCQCoefficients":
        return self.map(torch.angle)

    def to(self, *args, **kwargs) -> "SliCQCoefficients":
        return self.map(lambda b: b.to(*args, **kwargs))

    def detach(self) -> "SliCQCoefficients":
        return self.map(torch.detach)

    def _zip(self, other, fn) -> "SliCQCoefficients":
        if isinstance(other, SliCQCoefficients):
            if other.layout != self.layout:
                raise ValueError(f"layouts differ: {self.layout} vs {other.layout}")
            return SliCQCoefficients([fn(a, b) for a, b in zip(self.blocks, other.blocks)])
        return self.map(lambda a: fn(a, other))

    def __add__(self, other):
        return self._zip(other, torch.add)

    def __sub__(self, other):
        return self._zip(other, torch.sub)

    def __mul__(self, other):
        return self._zip(other, torch.mul)

    __radd__ = __add__
    __rmul__ = __mul__

    # ----------------------------------------------------------------- matrix forms
    def to_matrix(self) -> Tensor:
        """Zero-padded matrix form.

        Shape:
            - output: ``(..., bins, slices, M_max)``; group ``g`` occupies ``[..., :M_g]``.
        """
        m_max = self.max_slice_len
        return torch.cat(
            [torch.nn.functional.pad(b, (0, m_max - b.shape[-1])) for b in self.blocks], dim=-3
        )

    @classmethod
    def from_matrix(cls, matrix: Tensor, layout: Layout) -> "SliCQCoefficients":
        """Inverse of :meth:`to_matrix` (crops the padding)."""
        _check_matrix(matrix, layout)
        parts = matrix.split([b for b, _ in layout], dim=-3)
        return cls([p[..., :m] for p, (_, m) in zip(parts, layout)])

    def rasterize(self) -> Tensor:
        """Rasterized matrix form: every bin interpolated to ``M_max`` coefficients per slice.

        Shape:
            - output: ``(..., bins, slices, M_max)``
        """
        if not self.dtype.is_complex:
            raise ValueError(
                "rasterize() interpolates complex coefficients; rasterize before taking "
                "magnitudes (rasterize().abs())"
            )
        m_max = self.max_slice_len
        out = []
        for b in self.blocks:
            m = b.shape[-1]
            if m == m_max:
                out.append(b)
                continue
            spec = _fft.fft(b)
            zeros = spec.new_zeros(spec.shape[:-1] + (m_max - m,))
            spec = torch.cat((spec[..., : m // 2], zeros, spec[..., m // 2 :]), dim=-1)
            out.append(_fft.ifft(spec))
        return torch.cat(out, dim=-3)

    @classmethod
    def from_rasterized(cls, matrix: Tensor, layout: Layout) -> "SliCQCoefficients":
        """Inverse of :meth:`rasterize`: keep each bin's own band and decimate."""
        _check_matrix(matrix, layout)
        if not matrix.dtype.is_complex:
            raise ValueError("from_rasterized() needs complex coefficients")
        m_max = matrix.shape[-1]
        blocks = []
        for part, (_, m) in zip(matrix.split([b for b, _ in layout], dim=-3), layout):
            if m == m_max:
                blocks.append(part)
                continue
            spec = _fft.fft(part)
            spec = torch.cat((spec[..., : m // 2], spec[..., m_max - m // 2 :]), dim=-1)
            blocks.append(_fft.ifft(spec))
        return cls(blocks)


def _check_matrix(matrix: Tensor, layout: Layout) -> None:
    bins = sum(b for b, _ in layout)
    m_max = max(m for _, m in layout)
    if matrix.dim() < 3 or matrix.shape[-3] != bins or matrix.shape[-1] != m_max:
        raise ValueError(
            f"expected a matrix of shape (..., {bins}, slices, {m_max}) for this layout, "
            f"got {tuple(matrix.shape)}"
        )


pytree.register_pytree_node(
    SliCQCoefficients,
    lambda c: (list(c.blocks), None),
    lambda blocks, _: SliCQCoefficients(blocks),
)
