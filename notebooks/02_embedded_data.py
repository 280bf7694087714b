# %% [markdown]
# # 02 - The embedded dataset
#
# sliceq22 renders its own multitrack data (SoundFont songs in the MUSDB18-HQ layout), so every
# experiment runs on a fresh machine. This tour renders a small set, looks at its manifest,
# checks that each mixture is the sum of its stems, draws one song, and reads training batches
# through the DataModule, exactly as training does. `tests/test_notebooks.py` executes it.

# %%
import os
import tempfile

import numpy as np
import torch

from sliceq22.data.musdb import SOURCES, find_tracks, read_stem
from sliceq22.data.render import render_dataset
from sliceq22.eval.plots import plot_mixture_and_stems
from sliceq22.lit.datamodule import MusicDataModule
from sliceq22.transforms import SliCQT

root = os.path.join(tempfile.mkdtemp(), "embedded")
manifest = render_dataset(root, tracks=4, seconds=8.0, seed=11, progress=False)
for t in manifest["tracks"]:
    print(f"{t['subset']:5} valid={t['valid']!s:5} {t['name']:40} {t['bpm']:6.1f} bpm, {t['meter']}/4, GM programs {t['programs']}")

# %% [markdown]
# Every mixture is the sum of its four stems (float32 precision), and nothing clips.

# %%
for track in find_tracks(root, "all"):
    stems = {s: read_stem(track, s).astype(np.float64) for s in ("mixture",) + SOURCES}
    err = np.abs(stems["mixture"] - sum(stems[s] for s in SOURCES)).max()
    level = {s: round(float(10 * np.log10((stems[s] ** 2).mean())), 1) for s in SOURCES}
    print(f"{track.name:40} |mix - sum| = {err:.1e}, stem levels (dB): {level}")
    assert err < 1e-6

# %% [markdown]
# One song as the sliCQT sees it.

# %%
track = find_tracks(root, "train")[0]
audio = {s: torch.from_numpy(read_stem(track, s)) for s in ("mixture",) + SOURCES}
t = SliCQT("bark", 32.9, 22050, 262, 44100)
fig = plot_mixture_and_stems(audio, t, title=track.name)

# %% [markdown]
# Training batches: random excerpts, sources mixed across songs, random gains and channel swaps.

# %%
dm = MusicDataModule(root, seconds=2.0, samples_per_track=4, batch_size=4, num_workers=0, valid_seconds=4.0)
dm.setup("fit")
mixture, targets = next(iter(dm.train_dataloader()))
print("train batch:", tuple(mixture.shape), tuple(targets.shape), "(batch, targets, channels, samples)")
assert torch.allclose(targets.sum(1), mixture, atol=1e-5)
print("round trip: every target sums to the mixture")

# %%
import shutil

shutil.rmtree(os.path.dirname(root))  # the tour's render lived in a temporary folder
