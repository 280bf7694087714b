"""Demixing on the sliCQT: one mask network over all bin groups, masks read back per slice.

Data flow (``x`` audio ``(batch, channels, samples)``)::

    C = sliCQT(x)                    ragged blocks (B, ch, bins_g, slices, M_g)
    Y_g = overlap_add(|C_g|)         (B, ch, bins_g, frames_g): a true spectrogram per group
    image = stack_g resample(Y_g)    (B, ch, bins, T): all groups on one mask_hop time grid
    masks = softmax_targets(net(log image, position planes))   (B, targets, ch, bins, T)
    est_j = isliCQT(C * overlap_add^T(resample_g(mask_j)))     each slice reads its frames' mask

Design record:
    The de-overlap problem does not arise for masks: a ratio defined on the overlap-added grid
    applies to every slice sample that contributes to that frame (the transpose of the
    overlap-add copies it there), whereas magnitudes would have to be split between slices.
    xumx-sliCQ needed one network per bin group with transposed convolutions sized to each
    group's slice geometry. Here the groups' spectrograms are resampled to one time grid (the
    2014 rasterisation idea, but coarse: ``mask_hop`` seconds) and stacked in frequency order,
    so one small 2-D convolutional net sees neighbouring bins across groups, costs in
    proportion to the audio's length rather than the transform's redundancy (the first
    version ran the net on every group's native grid: 63k cells per 3 s item, 5 s per CPU
    step at batch 4, unusable), and is told where it is by two input planes: each bin's log
    centre frequency and log native frame period. Its weights run on any sliCQT configuration.
    The masks are a softmax over targets, so the estimates add up to the mixture exactly (the
    sum of MUSDB's stems is the mixture). Targets that do not make up the mixture (``vocals``
    alone, or ``drums, vocals``) get one more softmax channel, the residual (everything else),
    which is not returned: otherwise a single target's mask would be identically 1.

    With ``transform`` an STFT the same net runs on the STFT's own grid: the STFT control of
    the xumx-sliCQ papers, with identical model capacity.

    :class:`PerTargetDemixer` is the other branch of that lineage: every target gets its own
    transform (e.g. the per-target optima of the oracle parameter search) and its own network
    predicting a sigmoid mask there; masks from different transforms cannot be normalised
    against each other, so the time-domain estimates are made to add up to the mixture by the
    mixture-consistency projection (Wisdom et al. 2019: each estimate receives an equal share
    of the residual).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn

from sliceq22.filtering import wiener_em
from sliceq22.separator import check_mix
from sliceq22.transforms import SliCQCoefficients, SliCQT, overlap_add, overlap_add_adjoint


PARTITIONS = ({"drums", "bass", "other", "vocals"}, {"vocals", "accompaniment"})


def partitions_mixture(targets: Sequence[str]) -> bool:
    """Whether the targets add up to the mixture: MUSDB's four sources, or vocals + accompaniment."""
    return len(set(targets)) == len(tuple(targets)) and set(targets) in PARTITIONS


class _Block(nn.Module):
    """Residual conv block: dilated (bins x frames) convolution, GroupNorm, GELU."""

    def __init__(self, channels: int, kernel: tuple[int, int], dilation: int):
        super().__init__()
        pad = (kernel[0] // 2, dilation * (kernel[1] // 2))
        self.conv = nn.Conv2d(channels, channels, kernel, padding=pad, dilation=(1, dilation))
        self.norm = nn.GroupNorm(1, channels)
        self.act = nn.GELU()

    def forward(self, h: Tensor) -> Tensor:
        return h + self.act(self.norm(self.conv(h)))


class MaskNet(nn.Module):
    """Shared 2-D conv net: log-magnitude image -> per-target mask logits.

    An input convolution at full resolution, residual dilated blocks at half resolution in bins
    and frames (a strided convolution down, a transposed one up, a skip connection around), and
    a 1x1 output per target and channel.

    Args:
        channels: audio channels (2 for stereo).
        targets: number of targets.
        hidden: feature channels.
        dilations: one residual block per entry, dilated in time by that factor.
        kernel: (bins, frames) kernel size.

    Shape:
        ``(B, channels + 2, bins, frames) -> (B, targets, channels, bins, frames)``.
    """

    def __init__(self, channels: int = 2, targets: int = 4, hidden: int = 24, dilations: Sequence[int] = (1, 2, 4, 8),
                 kernel: Sequence[int] = (3, 5)):
        super().__init__()
        kernel = tuple(int(k) for k in kernel)
        self.channels, self.targets = channels, targets
        self.inp = nn.Sequential(nn.Conv2d(channels + 2, hidden, kernel, padding=(kernel[0] // 2, kernel[1] // 2)), nn.GELU())
        self.down = nn.Conv2d(hidden, hidden, 2, stride=2)
        self.blocks = nn.Sequential(*[_Block(hidden, kernel, d) for d in dilations])
        self.up = nn.ConvTranspose2d(hidden, hidden, 2, stride=2)
        self.out = nn.Conv2d(hidden, targets * channels, 1)

    def forward(self, features: Tensor) -> Tensor:
        h = self.inp(features)
        F, T = h.shape[-2:]
        low = self.down(nn.functional.pad(h, (0, T % 2, 0, F % 2)))
        h = h + self.up(self.blocks(low))[..., :F, :T]
        return self.out(h).unflatten(1, (self.targets, self.channels))


class SliCQDemixer(nn.Module):
    """Mask-based demixer on the sliCQT (or the STFT), following the separation contract.

    Args:
        transform: a :class:`~sliceq22.transforms.SliCQT` (or :class:`~sliceq22.transforms.STFT`).
        targets: target names.
        channels: audio channels the model expects (mono input is duplicated by ``separate``).
        hidden, dilations, kernel: see :class:`MaskNet`.
        mask_hop: seconds between frames of the common mask grid of the sliCQT blocks (see
            :meth:`masks`): the cost follows the audio length, not the transform's redundancy.
        wiener_iterations: EM steps of the multichannel Wiener post-filter
            (:func:`sliceq22.filtering.wiener_em`) on the masked estimates, per block of the
            transform (0: masks only). Differentiable; usually raised for inference only.
        mask: ``"softmax"`` over targets (the estimates partition the mixture) or
            ``"sigmoid"`` per target (independent masks, as one branch of
            :class:`PerTargetDemixer`).
        residual: with softmax masks, one more softmax channel for what no target covers
            (not returned). ``None``: exactly when the targets do not make up the mixture
            (:func:`partitions_mixture`), e.g. ``("vocals",)``.

    Shape:
        ``forward(x (B, ch, samples)) -> (B, targets, ch, samples)``;
        ``masks(C)`` -> per-block masks ``(B, targets [+ residual], ch, bins_g, slices, M_g)``.
    """

    needs_references = False

    def __init__(self, transform: nn.Module, targets: Sequence[str] = ("drums", "bass", "other", "vocals"), channels: int = 2,
                 hidden: int = 24, dilations: Sequence[int] = (1, 2, 4, 8), kernel: Sequence[int] = (3, 5),
                 mask_hop: float = 0.0116, wiener_iterations: int = 0, mask: str = "softmax", residual: bool | None = None):
        super().__init__()
        if mask not in ("softmax", "sigmoid"):
            raise ValueError(f"mask must be 'softmax' (a partition of the mixture) or 'sigmoid' (independent), got {mask!r}")
        self.mask = mask
        self.transform, self.targets, self.channels = transform, tuple(targets), int(channels)
        if not self.targets:
            raise ValueError("SliCQDemixer needs at least one target")
        if residual is None:
            residual = mask == "softmax" and not partitions_mixture(self.targets)
        if residual and mask != "softmax":
            raise ValueError("residual=True needs mask='softmax' (sigmoid masks are independent already)")
        self.residual = bool(residual)
        self.mask_hop, self.wiener_iterations = float(mask_hop), int(wiener_iterations)
        self.sample_rate = float(transform.sample_rate)
        self.net = MaskNet(channels, len(self.targets) + self.residual, hidden, dilations, kernel)
        self.sliced = isinstance(transform, SliCQT)
        if self.sliced and not self.mask_hop > 0:
            raise ValueError(f"mask_hop must be > 0 seconds for a sliCQT (the blocks share one mask grid), got {mask_hop}")
        freqs = transform.frequencies.clamp_min(10.0)
        self.register_buffer("log_freq", (torch.log(freqs) - math.log(1000.0)).float() / 3.0, persistent=False)

    def _normalise(self, logits: Tensor) -> Tensor:
        return torch.softmax(logits, dim=1) if self.mask == "softmax" else torch.sigmoid(logits)

    def _features(self, mag: Tensor, frame_periods: Tensor) -> Tensor:
        """``(B, ch, bins, frames)`` magnitude image -> network input with two position planes:
        each row's log centre frequency and the log of its native frame period."""
        B, ch, F, T = mag.shape
        logmag = torch.log(mag + 1e-4)
        fplane = self.log_freq[:F].to(mag.dtype)[None, None, :, None].expand(B, 1, F, T)
        tplane = (torch.log(frame_periods * 1000.0) / 3.0).to(mag)[None, None, :, None].expand(B, 1, F, T)
        return torch.cat([logmag, fplane, tplane], dim=1)

    def _grid(self, frames: int, samples_spanned: int) -> int:
        """Frames of the common mask grid over ``samples_spanned`` samples (>= 1)."""
        if self.mask_hop <= 0:
            return frames
        return max(1, round(samples_spanned / (self.mask_hop * self.sample_rate)))

    def masks(self, C) -> list[Tensor]:
        """Softmax masks per block, on the coefficient grid of ``C`` (ragged sliCQT or STFT).

        sliCQT: every block's overlap-added magnitude is resampled in time (mean power when
        shrinking, linear when stretching) to one grid of ``mask_hop`` seconds, the blocks are
        stacked into one (bins, frames) image for the net, and each block's mask rows are
        resampled back to the block's frames and copied to its slices.
        """
        if not self.sliced:
            mag = C.abs()
            periods = torch.full((mag.shape[-2],), self.transform.hop_length / self.sample_rate, device=mag.device)
            return [self._normalise(self.net(self._features(mag, periods)))]
        blocks = list(C.blocks)
        S = blocks[0].shape[-2]
        T = self._grid(0, (S + 1) * self.transform.slice_len // 2)
        rows, periods = [], []
        for b in blocks:
            F, M = b.shape[-3], b.shape[-1]
            ola = overlap_add(b.abs()).square()  # (B, ch, F, frames) power
            frames = ola.shape[-1]
            flat = ola.flatten(0, 2)[:, None]  # (B*ch*F, 1, frames)
            flat = nn.functional.adaptive_avg_pool1d(flat, T) if frames >= T else nn.functional.interpolate(flat, size=T, mode="linear")
            # clamp: a finite gradient for silent input (d sqrt / dx is infinite at 0)
            rows.append(flat[:, 0].unflatten(0, ola.shape[:3]).clamp_min(1e-20).sqrt())
            periods.append(torch.full((F,), self.transform.slice_len / M / self.sample_rate, device=b.device))
        image = torch.cat(rows, dim=-2)  # (B, ch, bins, T)
        logits = self.net(self._features(image, torch.cat(periods)))
        m_all = self._normalise(logits)  # (B, targets, ch, bins, T)
        out, row = [], 0
        for b in blocks:
            F, M = b.shape[-3], b.shape[-1]
            frames = (S + 1) * M // 2
            m = m_all[..., row : row + F, :]
            m = nn.functional.interpolate(m.flatten(0, 3)[:, None], size=frames, mode="linear")[:, 0].unflatten(0, m.shape[:4])
            out.append(overlap_add_adjoint(m, M))  # each slice sample reads its frame's mask
            row += F
        return out

    def forward(self, x: Tensor, return_spec: bool = False):
        """Estimates ``(B, targets, ch, samples)`` (and the complex estimates per block)."""
        if x.dim() != 3 or x.shape[1] != self.channels:
            raise ValueError(f"expected audio (batch, {self.channels}, samples), got {tuple(x.shape)}")
        n = x.shape[-1]
        need = getattr(self.transform, "min_samples", 1)  # the STFT's reflect padding needs > n_fft / 2
        if n < need:
            x = torch.nn.functional.pad(x, (0, need - n))
        C = self.transform(x)
        masks = self.masks(C)
        blocks = list(C.blocks) if self.sliced else [C]
        # (B, targets, ch, ...): masks times the mixture, through the real view (ONNX-exportable)
        est = [torch.view_as_complex(m[..., None] * torch.view_as_real(b)[:, None]) for m, b in zip(masks, blocks)]
        if self.wiener_iterations > 0:  # the residual takes part: the filter splits the whole mixture
            dims = 2 if self.sliced else 1
            est = [torch.stack(wiener_em(b, e.unbind(1), self.wiener_iterations, dims), dim=1) for e, b in zip(est, blocks)]
        if self.residual:
            est = [e[:, : len(self.targets)] for e in est]
        coeffs = SliCQCoefficients(est) if self.sliced else est[0]
        y = self.transform.inverse(coeffs, x.shape[-1])[..., :n]
        return (y, est, blocks) if return_spec else y

    def target_coefficients(self, targets: Tensor) -> list[Tensor]:
        """The true targets ``(B, J, ch, samples)`` in the model's domain: blocks ``(B, J, ch, ...)``."""
        C = self.transform(targets)
        return list(C.blocks) if self.sliced else [C]

    @torch.no_grad()
    def separate(self, mix: Tensor, references: Mapping[str, Tensor] | None = None) -> dict[str, Tensor]:
        """The separation contract: ``(ch, samples)`` or ``(B, ch, samples)`` -> ``{target: same}``."""
        return _separate(self, mix)


def _separate(model: nn.Module, mix: Tensor) -> dict[str, Tensor]:
    """``separate`` of both demixers: mono is duplicated to the model's stereo and averaged back."""
    mix = check_mix(mix)
    batched = mix.dim() == 3
    x = mix if batched else mix[None]
    mono = x.shape[1] == 1 and model.channels == 2
    if mono:
        x = x.expand(-1, 2, -1)
    device = next(iter(model.buffers())).device
    y = model(x.to(device, torch.float32)).to(mix.dtype)
    if mono:
        y = y.mean(2, keepdim=True)
    return {t: (y[:, j] if batched else y[0, j]).to(mix.device) for j, t in enumerate(model.targets)}


class PerTargetDemixer(nn.Module):
    """One transform and one mask network per target, estimates made mixture-consistent.

    Args:
        transforms: ``{target: transform}`` (sliCQTs with different parameters, or STFTs), all
            at one sample rate; the targets are its keys, in order.
        channels, hidden, dilations, kernel, mask_hop: of every branch (see
            :class:`SliCQDemixer`); each branch is a ``SliCQDemixer`` with one sigmoid target.
        mixture_consistency: add ``(x - sum_j y_j) / J`` to every estimate so they add up to
            the mixture (the per-target counterpart of softmax masks). ``None``: when the
            targets make up the mixture (:func:`partitions_mixture`); ``True`` for targets
            that do not (one target would always return the mixture) raises ``ValueError``.

    Shape:
        ``forward(x (B, ch, samples)) -> (B, targets, ch, samples)``.
    """

    needs_references = False

    def __init__(self, transforms: Mapping[str, nn.Module], channels: int = 2, hidden: int = 16,
                 dilations: Sequence[int] = (1, 2, 4, 8), kernel: Sequence[int] = (3, 5), mask_hop: float = 0.0116,
                 mixture_consistency: bool | None = None):
        super().__init__()
        if not transforms:
            raise ValueError("PerTargetDemixer needs at least one {target: transform}")
        rates = {float(t.sample_rate) for t in transforms.values()}
        if len(rates) != 1:
            raise ValueError(f"all per-target transforms must share one sample rate, got {sorted(rates)}")
        self.targets, self.channels = tuple(transforms), int(channels)
        self.sample_rate = rates.pop()
        partition = partitions_mixture(self.targets)
        if mixture_consistency and not partition:
            raise ValueError(
                f"mixture_consistency=True makes the estimates add up to the mixture, but the targets {self.targets} "
                f"do not (they must be drums, bass, other, vocals or vocals, accompaniment): set it to false"
            )
        self.mixture_consistency = partition if mixture_consistency is None else bool(mixture_consistency)
        self.branches = nn.ModuleDict({
            t: SliCQDemixer(tr, (t,), channels, hidden, dilations, kernel, mask_hop, 0, mask="sigmoid") for t, tr in transforms.items()
        })

    def forward(self, x: Tensor, return_spec: bool = False):
        """Estimates ``(B, targets, ch, samples)``; with ``return_spec`` also, per target, its
        masked blocks ``(B, 1, ch, ...)`` and the mixture's blocks in its domain."""
        if x.dim() != 3 or x.shape[1] != self.channels:
            raise ValueError(f"expected audio (batch, {self.channels}, samples), got {tuple(x.shape)}")
        outs = [branch(x, return_spec=True) for branch in self.branches.values()]
        y = torch.cat([o[0] for o in outs], dim=1)
        if self.mixture_consistency:
            y = y + (x - y.sum(1)).unsqueeze(1) / len(self.targets)
        return (y, [o[1] for o in outs], [o[2] for o in outs]) if return_spec else y

    def target_coefficients(self, targets: Tensor) -> list[list[Tensor]]:
        """Per target ``j``, its true audio ``targets[:, j]`` in branch ``j``'s domain."""
        return [b.target_coefficients(targets[:, j : j + 1]) for j, b in enumerate(self.branches.values())]

    @torch.no_grad()
    def separate(self, mix: Tensor, references: Mapping[str, Tensor] | None = None) -> dict[str, Tensor]:
        """The separation contract: ``(ch, samples)`` or ``(B, ch, samples)`` -> ``{target: same}``."""
        return _separate(self, mix)
