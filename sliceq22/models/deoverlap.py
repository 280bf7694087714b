"""De-overlap: from the overlap-added sliCQT magnitude back to per-slice magnitudes.

Adjacent slices overlap by half; ``y = A |C|`` (``A``: the 50% overlap-add) is what models see,
``|C|`` per slice is what synthesis needs. Every method here writes its estimate as a split of
each overlapped frame between the two slices that cover it::

    |C|_est = A^T y * e / A^T (A e)

for a per-slice envelope estimate ``e``, so ``A |C|_est = y`` exactly: no method ever changes
the spectrogram it was given, only how it is shared. The analytic baselines differ in ``e``:

* ``equal``: ``e = 1``, the minimum-norm inverse (an equal split);
* ``window``: ``e`` = the slicing window at each coefficient's time;
* ``atom``: the window blurred by the bin's atom (energy: ``sqrt(w^2 * |atom|^2)``);
* ``reblur``: the window-weighted ``A^T y`` blurred by the atom, in energy, in one pass.

Magnitude is not all the information there is: synthesis uses a phase (the true slice phase
when judging the de-overlap itself, the mixture's in separation), and only some magnitudes
make ``|C| e^{i phase}`` a consistent sliCQT. :func:`refine_with_phase` alternates the two
constraints (transform consistency, then the exact split of ``y``) for a few iterations; it
applies to any estimate, analytic or learned, and is reported separately (``+k`` columns).

The atom of bin ``k`` in coefficient units is ``ifft_M(g_k)``, the inverse DFT of its own
frequency window, so blurring is a multiplication in the coefficient-FFT domain.

:class:`DeOverlapNet` learns a correction to the ``reblur`` split. Design record:
    * It predicts, per overlapped frame, the logit of the share of the earlier slice, added to
      the baseline's logit: its output overlap-adds back to the input by construction, and an
      untrained net (zero last layer) *is* the re-blur baseline.
    * It works for any sliCQT configuration without a new architecture: convolutions run over
      (bins, frames) of each bin group with weights shared by all groups; the geometry enters as
      inputs (the window shares at each frame, the position within the half slice, the group's
      time resolution, the bin frequency), and the atom is a fixed number of coefficients wide
      in every group, so kernels in coefficient units see the same physics everywhere.
    * The first network of this kind (Keras, one fixed transform, predicting magnitudes
      directly with MSE) plateaued at MSE 1.8 and ~21 dB; predicting a share instead of a
      magnitude removes the scale problem entirely.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from sliceq22.transforms import SliCQCoefficients, SliCQT, overlap_add, overlap_add_adjoint

METHODS = ("equal", "window", "atom", "reblur")


def slice_window_coefficients(transform: SliCQT, m: int, dtype=torch.float64, device=None) -> Tensor:
    """The slicing window at the times of a group's ``m`` coefficients per slice. Shape ``(m,)``."""
    N, tr = transform.slice_len, transform.trans_len
    q, h = N / 4, tr / 2
    t = torch.arange(m, dtype=torch.float64) * (N / m)
    w = torch.zeros(m, dtype=torch.float64)
    if h > 0:
        up = (t >= q - h) & (t < q + h)
        w[up] = 0.5 - 0.5 * torch.cos(math.pi * (t[up] - (q - h)) / (2 * h))
        down = (t >= 3 * q - h) & (t < 3 * q + h)
        w[down] = 0.5 + 0.5 * torch.cos(math.pi * (t[down] - (3 * q - h)) / (2 * h))
    w[(t >= q + h) & (t < 3 * q - h)] = 1.0
    return w.to(dtype=dtype, device=device)


class DeOverlapGeometry(nn.Module):
    """Per-group constants of a transform that the de-overlap needs (buffers, built once).

    For group ``g``: ``window_g`` ``(m,)`` the slice window at coefficient times, and
    ``atom_g`` ``(n, m)`` the FFT of each bin's squared atom (the energy-blur kernel).
    """

    def __init__(self, transform: SliCQT):
        super().__init__()
        self.layout = transform.layout
        self.log_m = [math.log2(m) for _, m in self.layout]
        freqs = transform.frequencies.clamp_min(1.0)
        k = 0
        for g, (n, m) in enumerate(self.layout):
            self.register_buffer(f"window_{g}", slice_window_coefficients(transform, m, torch.float32), persistent=False)
            g_freq = torch.stack([torch.as_tensor(transform.frame.windows[k + i]) for i in range(n)])
            atom = torch.fft.ifft(g_freq.to(torch.complex128), dim=-1).abs() ** 2
            self.register_buffer(f"atom_{g}", torch.fft.fft(atom, dim=-1).to(torch.complex64), persistent=False)
            self.register_buffer(f"logf_{g}", (torch.log2(freqs[k : k + n] / 1000.0)).float(), persistent=False)
            k += n

    def window(self, g: int) -> Tensor:
        return getattr(self, f"window_{g}")

    def energy_blur(self, g: int, v: Tensor) -> Tensor:
        """``sqrt(v^2 * |atom|^2)`` along the coefficient axis. ``v``: ``(..., n, S, m)``."""
        kernel = getattr(self, f"atom_{g}")[:, None, :]
        spec = torch.fft.fft(v.float() ** 2, dim=-1) * kernel
        return torch.fft.ifft(spec, dim=-1).real.clamp_min(1e-20).sqrt()  # finite gradient at silence


def split_by_envelope(y: Tensor, e: Tensor, m: int, floor: float = 1e-6) -> Tensor:
    """``A^T y * e / A^T(A e)``: share every overlapped frame in proportion to ``e``.

    ``e`` gets a floor of ``floor`` times its per-bin maximum, so that frames no slice window
    covers (the outer quarter slices, where only atom spreading puts energy) are shared
    equally instead of lost.

    Shape: ``y (..., (S + 1) m / 2)``, ``e (..., S, m)`` -> ``(..., S, m)``.
    """
    e = e + floor * e.amax(dim=(-2, -1), keepdim=True) + 1e-30
    denom = overlap_add_adjoint(overlap_add(e), m)
    return overlap_add_adjoint(y, m) * e / denom


def envelope(geometry: DeOverlapGeometry, g: int, y: Tensor, method: str, slices: int) -> Tensor:
    """The per-slice envelope estimate ``e`` of an analytic method for group ``g``."""
    n, m = geometry.layout[g]
    w = geometry.window(g).to(y.dtype)
    shape = y.shape[:-1] + (slices, m)
    if method == "equal":
        return torch.ones(shape, dtype=y.dtype, device=y.device)
    if method == "window":
        return w.expand(shape)
    if method == "atom":
        return geometry.energy_blur(g, w.expand(shape)).to(y.dtype)
    if method == "reblur":
        return geometry.energy_blur(g, w * overlap_add_adjoint(y, m)).to(y.dtype)
    raise ValueError(f"unknown de-overlap method {method!r}; choose one of {', '.join(METHODS)}")


def analytic_deoverlap(geometry: DeOverlapGeometry, ola: tuple[Tensor, ...], method: str = "reblur") -> SliCQCoefficients:
    """De-overlap magnitudes with an analytic method.

    Args:
        geometry: the transform's :class:`DeOverlapGeometry`.
        ola: overlap-added magnitudes, ``(..., bins_g, frames_g)`` per group.
        method: one of :data:`METHODS`.

    Returns:
        Per-slice magnitudes ``(..., bins_g, slices, M_g)`` per group.
    """
    blocks = []
    for g, (y, (_, m)) in enumerate(zip(ola, geometry.layout)):
        slices = y.shape[-1] // (m // 2) - 1
        blocks.append(split_by_envelope(y, envelope(geometry, g, y, method, slices), m))
    return SliCQCoefficients(blocks)


def refine_with_phase(
    transform: SliCQT, magnitude: SliCQCoefficients, rotor: SliCQCoefficients, length: int, iterations: int = 1
) -> SliCQCoefficients:
    """Make per-slice magnitudes consistent with a synthesis phase, keeping their overlap-add.

    One iteration: synthesise ``x = T^+(m e^{i phase})``, analyse it again (``Z = T x``: the
    nearest consistent coefficients), keep the part of ``Z`` along the given phase
    (``max(Re(Z e^{-i phase}), 0)``), and use that as the envelope of an exact split of
    ``y = A m`` (:func:`split_by_envelope`), so the overlap-added input never changes.
    Differentiable (train through it), any device; each iteration costs one inverse and one
    forward sliCQT.

    Args:
        transform: the sliCQT the coefficients belong to.
        magnitude: per-slice magnitude estimate, ``(..., bins_g, slices, M_g)`` per group.
        rotor: the synthesis phase as unit complex numbers, same shapes.
        length: signal length in samples (consistency includes the signal's support).
        iterations: number of iterations (0 returns ``magnitude``).

    Returns:
        Refined per-slice magnitudes with ``A m_refined == A m``.
    """
    if iterations < 0:
        raise ValueError(f"iterations must be >= 0, got {iterations}")
    ola = transform.overlap_add(magnitude)
    m = magnitude
    for _ in range(int(iterations)):
        Z = transform(transform.inverse(m * rotor, length))
        along = [(z * r.conj()).real.clamp_min(0) for z, r in zip(Z.blocks, rotor.blocks)]
        m = SliCQCoefficients([split_by_envelope(y, e, mm) for y, e, (_, mm) in zip(ola, along, transform.layout)])
    return m


def _logit(p: Tensor, eps: float = 1e-4) -> Tensor:
    p = p.clamp(eps, 1 - eps)
    return torch.log(p) - torch.log1p(-p)


class DeOverlapNet(nn.Module):
    """A small convolutional correction to the re-blur split, shared by all bin groups.

    Args:
        channels: hidden channels.
        layers: number of hidden conv layers (kernel ``(3, kernel)`` over (bins, frames)).
        kernel: kernel length along frames (coefficients), odd.
        dilations: frame dilation per layer (cycled), for context of a few atoms.

    Shape:
        - input: overlap-added magnitudes, per group ``(batch, channels, bins_g, frames_g)``.
        - output: :class:`SliCQCoefficients` of per-slice magnitudes.
    """

    n_features = 8

    def __init__(self, geometry: DeOverlapGeometry, channels: int = 32, layers: int = 4, kernel: int = 5, dilations=(1, 2, 4, 1)):
        super().__init__()
        if kernel % 2 == 0:
            raise ValueError(f"kernel must be odd, got {kernel}")
        self.geometry = geometry
        convs, c_in = [], self.n_features
        for i in range(layers):
            d = dilations[i % len(dilations)]
            convs.append(nn.Conv2d(c_in, channels, (3, kernel), padding=(1, d * (kernel // 2)), dilation=(1, d)))
            c_in = channels
        self.convs = nn.ModuleList(convs)
        self.out = nn.Conv2d(channels, 1, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        self.act = nn.GELU()

    def _features(self, g: int, y: Tensor, base_share: Tensor) -> Tensor:
        """``(B, F, n, frames)`` features of group ``g`` (``B`` = all leading dims)."""
        n, m = self.geometry.layout[g]
        h = m // 2
        B, frames = y.shape[0], y.shape[-1]
        logy = torch.log(y + 1e-7)
        logy = logy - logy.mean(dim=(-2, -1), keepdim=True)  # level-invariant
        w = self.geometry.window(g).to(y.dtype)
        pos = torch.arange(frames, device=y.device) % h
        w_late, w_early = w[:h][pos], w[h:][pos]  # the later slice's first half, the earlier's second
        phase = 2 * math.pi * pos.to(y.dtype) / h
        per_frame = torch.stack((w_early, w_late, torch.sin(phase), torch.cos(phase)))  # (4, frames)
        per_frame = per_frame[None, :, None, :].expand(B, 4, n, frames)
        logm = torch.full((B, 1, n, frames), self.geometry.log_m[g] / 10.0, dtype=y.dtype, device=y.device)
        logf = getattr(self.geometry, f"logf_{g}").to(y.dtype)[None, None, :, None].expand(B, 1, n, frames)
        return torch.cat((logy[:, None], _logit(base_share)[:, None] / 4.0, per_frame, logm, logf), dim=1)

    def forward(self, ola: tuple[Tensor, ...]) -> SliCQCoefficients:
        blocks = []
        for g, (y, (_, m)) in enumerate(zip(ola, self.geometry.layout)):
            lead = y.shape[:-2]
            y2 = y.reshape((-1,) + y.shape[-2:])  # (B, n, frames)
            h = m // 2
            slices = y.shape[-1] // h - 1
            e = envelope(self.geometry, g, y2, "reblur", slices)
            # share of the earlier slice at every frame (1 where only the earlier one exists)
            # frame block b holds the second half of slice b - 1 ("early") and the first of slice b ("late")
            early = torch.cat((torch.zeros_like(e[..., :1, h:]), e[..., h:]), dim=-2).flatten(-2)
            late = torch.cat((e[..., :h], torch.zeros_like(e[..., -1:, :h])), dim=-2).flatten(-2)
            floor = 1e-6 * e.amax(dim=(-2, -1), keepdim=True).flatten(-2) + 1e-30
            base = (early + floor) / (early + late + 2 * floor)
            z = self._features(g, y2, base)
            for conv in self.convs:
                z = self.act(conv(z))
            # the correction is added to the base split's exact logit (the clamped one of the
            # features made an untrained net differ from re-blur wherever a share is near 0 or 1),
            # and both shares are sigmoids of it (1 - share loses the small ones)
            logit = torch.log(early + floor) - torch.log(late + floor) + self.out(z)[:, 0]
            share, rest = torch.sigmoid(logit), torch.sigmoid(-logit)
            # keep the edges exact: the first half-slice belongs to slice 0, the last to S-1
            edge = lambda v, first, last: torch.cat(  # noqa: E731
                (torch.full_like(v[..., :h], first), v[..., h:-h], torch.full_like(v[..., -h:], last)), dim=-1
            )
            share, rest = edge(share, 0.0, 1.0), edge(rest, 1.0, 0.0)
            blocks_early = (share * y2).unflatten(-1, (slices + 1, h))
            blocks_late = (rest * y2).unflatten(-1, (slices + 1, h))
            C = torch.cat((blocks_late[..., :-1, :], blocks_early[..., 1:, :]), dim=-1)  # (B, n, S, m)
            blocks.append(C.reshape(lead + C.shape[-3:]))
        return SliCQCoefficients(blocks)
