"""The STFT control representation, with the same interface as the sliCQT.

``C = t(x)`` for ``x`` of shape ``(..., samples)`` gives complex ``(..., bins, frames)``;
``t.inverse(C, length)`` gives the signal back (least-squares ISTFT, perfect reconstruction
for the Hann window at hop <= n_fft / 2). Fixed tensors are buffers; no device defaults.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

_WINDOWS = {"hann": torch.hann_window, "hamming": torch.hamming_window, "blackman": torch.blackman_window}


class STFT(nn.Module):
    """Short-time Fourier transform (``torch.stft``) for signals with any leading dims.

    Args:
        n_fft: FFT size in samples.
        hop_length: hop in samples (default ``n_fft // 4``).
        window: ``hann``, ``hamming`` or ``blackman`` (periodic).
        center: pad ``n_fft // 2`` on both sides so frame ``t`` is centred on ``t * hop``.
        sample_rate: sampling rate in Hz (for :attr:`frequencies`).

    Shape:
        - input: ``(..., samples)`` real.
        - output: ``(..., n_fft // 2 + 1, frames)`` complex.
    """

    def __init__(
        self,
        n_fft: int = 4096,
        hop_length: int | None = None,
        window: str = "hann",
        center: bool = True,
        sample_rate: float = 44100,
    ):
        super().__init__()
        if n_fft < 2:
            raise ValueError(f"n_fft must be >= 2, got {n_fft}")
        hop_length = n_fft // 4 if hop_length is None else hop_length
        if not 0 < hop_length <= n_fft:
            raise ValueError(f"hop_length must be in 1..n_fft={n_fft}, got {hop_length}")
        if window not in _WINDOWS:
            raise ValueError(f"unknown window {window!r}; choose one of {', '.join(_WINDOWS)}")
        if not sample_rate or sample_rate <= 0:
            raise ValueError(f"sample_rate must be > 0 Hz, got {sample_rate}")
        self.n_fft, self.hop_length, self.center = int(n_fft), int(hop_length), bool(center)
        self.window_name = window
        self.sample_rate = float(sample_rate)
        self.register_buffer("window", _WINDOWS[window](self.n_fft, periodic=True, dtype=torch.float64), persistent=False)
        freqs = torch.arange(self.n_fft // 2 + 1, dtype=torch.float64) * self.sample_rate / self.n_fft
        self.register_buffer("frequencies", freqs, persistent=False)

    @property
    def num_bins(self) -> int:
        return self.n_fft // 2 + 1

    def num_frames(self, samples: int) -> int:
        if self.center:
            return samples // self.hop_length + 1
        return (samples - self.n_fft) // self.hop_length + 1

    def extra_repr(self) -> str:
        return f"n_fft={self.n_fft}, hop_length={self.hop_length}, window={self.window_name!r}, center={self.center}"

    def forward(self, x: Tensor) -> Tensor:
        """Analysis. Shape: ``(..., samples)`` -> ``(..., bins, frames)`` complex."""
        if not isinstance(x, Tensor) or x.dim() < 1 or x.shape[-1] == 0:
            raise ValueError(f"STFT expects a signal of shape (..., samples) with samples > 0, got {getattr(x, 'shape', x)}")
        if x.is_complex() or not x.is_floating_point():
            raise ValueError(f"STFT expects a real floating-point signal, got {x.dtype}")
        if not self.center and x.shape[-1] < self.n_fft:
            raise ValueError(f"signal of {x.shape[-1]} samples is shorter than n_fft={self.n_fft} (use center=True)")
        dtype = torch.float32 if x.dtype in (torch.float16, torch.bfloat16) else x.dtype
        lead = x.shape[:-1]
        spec = torch.stft(
            x.reshape(-1, x.shape[-1]).to(dtype),
            self.n_fft,
            self.hop_length,
            window=self.window.to(dtype),
            center=self.center,
            return_complex=True,
        )
        return spec.reshape(lead + spec.shape[-2:])

    def inverse(self, C: Tensor, length: int) -> Tensor:
        """Synthesis. Shape: ``(..., bins, frames)`` -> ``(..., length)``."""
        if not isinstance(C, Tensor) or C.dim() < 2 or C.shape[-2] != self.num_bins:
            raise ValueError(
                f"STFT.inverse expects complex (..., {self.num_bins}, frames), got {getattr(C, 'shape', type(C).__name__)}"
            )
        if not C.is_complex():
            raise ValueError("STFT.inverse needs complex coefficients (magnitudes need a phase first)")
        lead = C.shape[:-2]
        rtype = torch.float64 if C.dtype == torch.complex128 else torch.float32
        y = torch.istft(
            C.reshape((-1,) + C.shape[-2:]),
            self.n_fft,
            self.hop_length,
            window=self.window.to(rtype),
            center=self.center,
            length=int(length),
        )
        return y.reshape(lead + (int(length),))
