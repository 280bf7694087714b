"""The STFT control representation, with the same interface as the sliCQT.

``C = t(x)`` for ``x`` of shape ``(..., samples)`` gives complex ``(..., bins, frames)``;
``t.inverse(C, length)`` gives the signal back (least-squares ISTFT, perfect reconstruction
for the Hann window at hop <= n_fft / 2; with ``center=False`` except where the window
vanishes: the first and last sample of a periodic Hann window are 0, so those samples come
back as 0). Fixed tensors are buffers; no device defaults.

The inverse is written out (``irfft`` of every frame, window, overlap-add, division by the
summed squared window) rather than ``torch.istft``: the same least-squares ISTFT (to float
round-off, tested). With a hop that divides ``n_fft`` the overlap-add is ``n_fft / hop``
shifted block adds, which export to ONNX (``torch.istft``'s decomposition hands onnxruntime
an invalid graph); other hops use ``fold``. A window and hop whose squared windows leave
zeros (NOLA fails, e.g. Hann at ``hop = n_fft``) are refused by ``inverse``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from . import fft as _fft
from .buffers import Float64Buffers

_WINDOWS = {"hann": torch.hann_window, "hamming": torch.hamming_window, "blackman": torch.blackman_window}


class STFT(Float64Buffers):
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
        for name, value in (("n_fft", n_fft), ("hop_length", hop_length)):
            if value is not None and (isinstance(value, bool) or not float(value).is_integer()):
                raise ValueError(f"{name} must be a whole number of samples, got {value}")
        if n_fft < 2:
            raise ValueError(f"n_fft must be >= 2, got {n_fft}")
        n_fft = int(n_fft)
        hop_length = n_fft // 4 if hop_length is None else int(hop_length)
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
        # invertible where the squared windows at hop shifts never sum to zero (NOLA); decided
        # here so the inverse has no data-dependent branch (it must export)
        w2 = self.window.square()
        folded = torch.nn.functional.pad(w2, (0, -self.n_fft % self.hop_length)).view(-1, self.hop_length).sum(0)
        self._nola = float(folded.min()) > 1e-10 * float(folded.max())
        freqs = torch.arange(self.n_fft // 2 + 1, dtype=torch.float64) * self.sample_rate / self.n_fft
        self.register_buffer("frequencies", freqs, persistent=False)

    @property
    def exportable(self) -> bool:
        """Whether the inverse's overlap-add is written as block adds (a hop that divides
        ``n_fft``), which export to ONNX; other hops use ``fold``."""
        return self._nola and self.n_fft % self.hop_length == 0

    @property
    def invertible(self) -> bool:
        """Whether the squared windows at hop shifts never sum to zero (the NOLA condition)."""
        return self._nola

    @property
    def num_bins(self) -> int:
        return self.n_fft // 2 + 1

    @property
    def min_samples(self) -> int:
        """The shortest signal :meth:`forward` takes (``center``'s reflect padding needs more than
        ``n_fft / 2`` samples; without it, one frame)."""
        return self.n_fft // 2 + 1 if self.center else self.n_fft

    def num_frames(self, samples: int) -> int:
        padded = samples + 2 * (self.n_fft // 2) if self.center else samples
        return (padded - self.n_fft) // self.hop_length + 1

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
        if self.center and x.shape[-1] <= self.n_fft // 2:
            raise ValueError(
                f"signal of {x.shape[-1]} samples is too short for center=True with n_fft={self.n_fft} "
                f"(the reflect padding needs more than {self.n_fft // 2}): zero-pad it or use a smaller n_fft"
            )
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
        if not self.invertible:
            raise ValueError(
                f"STFT(n_fft={self.n_fft}, hop_length={self.hop_length}, window={self.window_name!r}) cannot be "
                f"inverted: its squared windows shifted by the hop sum to zero at some samples (the NOLA condition "
                f"fails); use hop_length <= n_fft // 2"
            )
        lead = C.shape[:-2]
        rtype = torch.float64 if C.dtype == torch.complex128 else torch.float32
        return self._overlap_add_inverse(C.reshape((-1,) + C.shape[-2:]), int(length), rtype).reshape(lead + (int(length),))

    def _overlap_add_inverse(self, C: Tensor, length: int, rtype: torch.dtype) -> Tensor:
        """``torch.istft``'s least squares, written out: ``(B, bins, T) -> (B, length)``."""
        n, hop = self.n_fft, self.hop_length
        w = self.window.to(rtype)
        frames = _fft.irfft(torch.view_as_complex(torch.view_as_real(C).transpose(-3, -2)), n) * w  # (B, T, n)
        T = frames.shape[-2]
        if n % hop == 0:  # n / hop shifted block adds (exportable)
            R = n // hop
            blocks = frames.unflatten(-1, (R, hop))  # (B, T, R, hop): frame t covers blocks t .. t + R - 1
            out = frames.new_zeros(frames.shape[:-2] + (T + R - 1, hop))
            env = w.new_zeros(T + R - 1, hop)
            w2 = (w * w).view(R, hop)
            for r in range(R):
                out[..., r : r + T, :] += blocks[..., :, r, :]
                env[r : r + T] += w2[r]
            out, env = out.flatten(-2), env.flatten()
        else:  # any other hop: fold (col2im) adds the frames at their offsets
            total = (T - 1) * hop + n
            fold = lambda f: torch.nn.functional.fold(f.transpose(-1, -2), (1, total), (1, n), stride=(1, hop))  # noqa: E731
            out = fold(frames).reshape(frames.shape[:-2] + (total,))
            env = fold((w * w).expand(1, T, n)).reshape(total)
        start = n // 2 if self.center else 0
        end = start + length
        if end > out.shape[-1]:  # asked for more than the frames cover: zeros, as torch.istft pads
            out = torch.nn.functional.pad(out, (0, end - out.shape[-1]))
            env = torch.nn.functional.pad(env, (0, end - env.shape[-1]), value=1.0)
        env = env[start:end]
        # center=False: where the window vanishes (the signal's first/last sample) the frames
        # carry nothing and the output is 0, not 0/0 (torch.istft refuses such a frame); 1e-11 is
        # torch.istft's own threshold
        return out[..., start:end] / torch.where(env > 1e-11, env, torch.ones_like(env))
