# %% [markdown]
# # 03 - Separating and scoring
#
# How sliceq22 measures a separator, on data it renders itself: the mixture as its own estimate
# (the floor), oracle masks on the STFT and on the sliCQT (what a representation allows at
# best), and a supervised NMF baseline fitted on the training tracks, all scored with BSS Eval
# v4 exactly as museval computes it. `python evaluate.py separator=...` does the same over a
# whole dataset and writes museval-style JSON per track; this is the look inside. Runs as a
# script (`python notebooks/03_separation_scoring.py`); `tests/test_notebooks.py` executes it.

# %%
import tempfile

import torch

from sliceq22.classic.separation import SupervisedNMF
from sliceq22.data.musdb import find_tracks, read_stem
from sliceq22.data.render import render_dataset
from sliceq22.eval.oracles import Oracle
from sliceq22.eval.scores import aggregate, aggregate_mdx, evaluate_track, format_table
from sliceq22.separator import MixtureAsEstimate
from sliceq22.transforms import STFT, SliCQT

sr = 44100
targets = ("drums", "bass", "other", "vocals")

# %% [markdown]
# Four 8-second songs in the MUSDB18-HQ layout (`<root>/{train,test}/<song>/<stem>.wav`): two
# to train on, one for validation, one to test. `render_dataset` is what `make run` calls for
# `data/embedded`.

# %%
root = tempfile.mkdtemp(prefix="sliceq22_tour03_")
render_dataset(root, tracks=4, seconds=8.0, seed=3, progress=False)
train, test = find_tracks(root, "train"), find_tracks(root, "test")
print(f"{len(train)} training tracks, test track: {test[0].name}")
track = test[0]
mix = torch.from_numpy(read_stem(track, "mixture"))  # (channels, samples)
refs = {t: torch.from_numpy(read_stem(track, t)) for t in targets}
print("mixture", tuple(mix.shape), "= sum of stems to", f"{(sum(refs.values()) - mix).abs().max():.1e}")

# %% [markdown]
# Every separator follows one contract: `separate(mix, references=None) -> {target: audio}`.
# Oracles read the true references (that is what makes them oracles); the others ignore them.
# IRM1 is the ratio of magnitudes `|S_j| / sum_k |S_k|` applied to the mixture; MPI keeps the
# true magnitude with the mixture's phase (the best a magnitude-only network can do).

# %%
stft = STFT(4096, 1024, sample_rate=sr)
bark = SliCQT(scale="bark", fmin=32.9, fmax=sr / 2, bins=262, sample_rate=sr)
separators = {
    "mixture as estimate": MixtureAsEstimate(targets, sr),
    "IRM1, STFT 4096": Oracle(stft, "irm1", targets),
    "IRM1, sliCQT Bark-262": Oracle(bark, "irm1", targets),
    "MPI, STFT 4096": Oracle(stft, "mpi", targets),
    "MPI, sliCQT Bark-262": Oracle(bark, "mpi", targets),
    "supervised NMF (STFT)": SupervisedNMF.from_dataset(root, STFT(2048, 512, sample_rate=sr), targets, rank=8, n_iter=40),
}
estimates = {name: sep.separate(mix, references=refs) for name, sep in separators.items()}

# %% [markdown]
# The ratio masks partition the mixture: their estimates add back up to it (up to the
# masks' `eps` and the transform's float32 round trip).

# %%
for name in ("IRM1, STFT 4096", "IRM1, sliCQT Bark-262"):
    err = (sum(estimates[name].values()) - mix).norm() / mix.norm()
    print(f"{name}: mixture round trip {20 * torch.log10(err):.0f} dB")

# %% [markdown]
# BSS Eval v4 (SDR/ISR/SIR/SAR per 1-second window, median over windows; museval's numbers to
# ~1e-8 dB, see `tests/eval/test_bsseval.py`) and the whole-track MDX SDR beside it.

# %%
scores = {name: evaluate_track(refs, est, sr, track.name) for name, est in estimates.items()}
print(format_table({name: aggregate([s]) for name, s in scores.items()}))
print()
for name, s in scores.items():
    print(f"{name:24s} MDX SDR mean {aggregate_mdx([s])['mean']:6.2f} dB")

# %% [markdown]
# On one 8-second song the numbers are anecdotes; the README's tables come from
# `python evaluate.py` over every test track (and a held-out render).

# %%
import shutil

shutil.rmtree(root)  # the tour's render lived in a temporary folder
