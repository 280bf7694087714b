# %% [markdown]
# # 01 - A tour of the sliCQT
#
# The sliced constant-Q transform in sliceq22: build one, look at its three coefficient
# forms, overlap-add the slices, and reconstruct. Runs as a script (`python notebooks/01_slicqt_tour.py`)
# or cell by cell in any editor that understands `# %%` cells; `tests/test_notebooks.py` executes it.

# %%
import torch

from sliceq22.data.synth import synth_mixture
from sliceq22.transforms import STFT, SliCQCoefficients, SliCQT, overlap_add_pinv

sr = 44100
x = torch.from_numpy(synth_mixture(4.0, sr, seed=3)).float()  # (2, samples): stereo
print("signal", tuple(x.shape))

# %% [markdown]
# xumx-sliCQ's Bark scale. `slice_len=None` picks the smallest admissible slice, rounded up
# to a fast FFT size; the transition defaults to a quarter of it.

# %%
t = SliCQT(scale="bark", fmin=32.9, fmax=sr / 2, bins=262, sample_rate=sr)
print(t)
C = t(x)
print(C)
print("groups (bins, coefficients per slice):", t.layout[:4], "...", t.layout[-2:])

# %% [markdown]
# Three forms. The ragged one is what the transform computes; the zero-padded matrix stacks
# it with padding; the rasterized matrix (Schörkhuber et al. 2014) interpolates every bin to
# the finest time grid, so all rows share one time axis.

# %%
matrix = C.to_matrix()
raster = C.rasterize()
print("matrix", tuple(matrix.shape), "raster", tuple(raster.shape))
back = SliCQCoefficients.from_rasterized(raster, t.layout)
err = max((a - b).abs().max().item() for a, b in zip(back.blocks, C.blocks))
print(f"from_rasterized(rasterize(C)) max error: {err:.2e}")

# %% [markdown]
# Adjacent slices overlap by half. Overlap-adding the magnitudes gives one spectrogram per
# bin group; the de-overlap problem is to undo that. The pseudo-inverse (an equal split) is
# the weakest baseline: with the true phase it reconstructs only roughly.

# %%
ola = t.overlap_add(C.abs())
print("overlap-added group shapes:", [tuple(s.shape[-2:]) for s in ola[:3]], "...")
split = SliCQCoefficients([overlap_add_pinv(s, b.shape[-1]) for s, b in zip(ola, C.blocks)])
phase = C.map(lambda b: torch.exp(1j * b.angle()))
y = t.inverse(split * phase, x.shape[-1])
snr = 20 * torch.log10(x.norm() / (x - y).norm())
print(f"equal-split de-overlap with the true phase: {snr:.1f} dB SNR")

# %% [markdown]
# Perfect reconstruction, and the STFT control with the same interface.

# %%
x_hat = t.inverse(C, x.shape[-1])
print(f"sliCQT round trip: {20 * torch.log10((x - x_hat).norm() / x.norm()):.1f} dB")
s = STFT(n_fft=4096, hop_length=1024, sample_rate=sr)
print(f"STFT round trip:   {20 * torch.log10((x - s.inverse(s(x), x.shape[-1])).norm() / x.norm()):.1f} dB")
assert snr < 20 < -20 * torch.log10((x - x_hat).norm() / x.norm())
