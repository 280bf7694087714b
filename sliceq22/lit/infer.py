"""Checkpoint inference for the de-overlap: a wav through sliCQT -> overlap-add -> network -> inverse.

``python infer.py ckpt=outputs/.../checkpoints/last.ckpt input=song.wav output=song.deoverlap.wav``

The checkpoint is loaded with ``torch.load(weights_only=True)``; the model is rebuilt from the
resolved config stored in it, so no training config is needed. The reconstruction uses the
true slice phase (the de-overlap's own quality, as in training); the SNR of the network and of
the re-blur baseline are printed.
"""

from __future__ import annotations

import logging
import os

import torch
from hydra.utils import instantiate

from sliceq22.data.audio import load_audio, save_audio
from sliceq22.lit.deoverlap import CONFIG_KEY, DeOverlapModule, snr_db
from sliceq22.models.deoverlap import analytic_deoverlap

log = logging.getLogger(__name__)


def load_deoverlap(ckpt: str, device: str = "cpu") -> DeOverlapModule:
    """Rebuild a trained :class:`DeOverlapModule` from a checkpoint (weights only, no pickles)."""
    if not os.path.isfile(ckpt):
        raise ValueError(f"checkpoint not found: {ckpt}")
    state = torch.load(ckpt, map_location="cpu", weights_only=True)
    if CONFIG_KEY not in state:
        raise ValueError(f"{ckpt} carries no sliceq22 config: was it written by `python train.py experiment=deoverlap`?")
    module = instantiate(state[CONFIG_KEY]["model"])
    module.load_state_dict(state["state_dict"])
    return module.to(device).eval()


def deoverlap_file(ckpt: str, input: str, output: str | None = None, overwrite: bool = False, device: str = "cpu") -> dict:
    """De-overlap one file and write the reconstruction; returns the SNRs in dB."""
    module = load_deoverlap(ckpt, device)
    t = module.transform
    x = load_audio(input, t.sample_rate).float().to(device)
    if output is None:
        output = os.path.splitext(input)[0] + ".deoverlap.wav"
    if os.path.exists(output) and not overwrite:  # fail before the work, not after
        raise ValueError(f"{output} exists: refusing to overwrite it (choose another output or pass overwrite=true)")
    with torch.no_grad():
        C, ola = module.analyse(x)
        y = module.reconstruct(module(ola), C, x.shape[-1], "true")
        base = module.reconstruct(analytic_deoverlap(module.geometry, ola, "reblur"), C, x.shape[-1], "true")
    result = {"snr_db": float(snr_db(x[None], y[None])), "baseline_snr_db": float(snr_db(x[None], base[None]))}
    save_audio(output, y, t.sample_rate, overwrite=overwrite)
    log.info("%s -> %s: SNR %.2f dB (re-blur baseline %.2f dB)", input, output, result["snr_db"], result["baseline_snr_db"])
    print(f"SNR {result['snr_db']:.2f} dB (re-blur baseline {result['baseline_snr_db']:.2f} dB) -> {output}")
    return result
