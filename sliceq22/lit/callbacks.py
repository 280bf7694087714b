"""Callbacks that put pictures and sound into TensorBoard (never from the step functions)."""

from __future__ import annotations

import lightning as L
import numpy as np
import torch

from sliceq22.models.deoverlap import analytic_deoverlap


class _Examples(L.Callback):
    """Shared guard of the example callbacks: every ``every_n_epochs`` on rank zero, outside the
    sanity check, with a TensorBoard-like writer; gives the first validation item's mixture."""

    def __init__(self, seconds: float = 6.0, every_n_epochs: int = 1):
        self.seconds, self.every_n_epochs = seconds, every_n_epochs

    def _writer_and_item(self, trainer: L.Trainer):
        if trainer.sanity_checking or not trainer.is_global_zero or trainer.current_epoch % self.every_n_epochs:
            return None
        writer = getattr(trainer.logger, "experiment", None)
        if writer is None or not hasattr(writer, "add_image"):
            return None
        loaders = trainer.val_dataloaders
        dataset = (loaders[0] if isinstance(loaders, (list, tuple)) else loaders).dataset
        return writer, dataset[0][0], _logging_step(trainer)


def _logging_step(trainer: L.Trainer) -> int:
    """The step Lightning gives this validation's scalars, so pictures and sound line up with them.

    Lightning logs metrics at the count of batches that stepped, which it raises only after the
    validation at the end of an epoch has run; ``trainer.global_step`` (optimizer steps) is one
    ahead there. Falls back to ``global_step`` where a Lightning version lacks the counter.
    """
    loop = getattr(getattr(trainer, "fit_loop", None), "epoch_loop", None)
    return int(getattr(loop, "_batches_that_stepped", trainer.global_step))


def _db_image(spec: torch.Tensor) -> torch.Tensor:
    """``(bins, frames)`` magnitude -> [0, 1] image rows, 80 dB range, low frequencies at the bottom."""
    db = 20 * torch.log10(spec.clamp_min(1e-8) / spec.max().clamp_min(1e-8))
    return ((db.clamp_min(-80) + 80) / 80).flip(0).cpu()


def _side_by_side(rows: list[torch.Tensor]) -> np.ndarray:
    """Images of equal height next to each other with a white gap, as a ``(1, H, W)`` array."""
    gap = torch.ones(rows[0].shape[0], 4)
    return torch.cat([torch.cat((r, gap), dim=1) for r in rows], dim=1)[None].numpy().astype(np.float32)


class DeOverlapExamples(_Examples):
    """After validation: the first validation item's spectrograms and audio in TensorBoard.

    Images (``examples/spectrogram target | baseline | network``): the overlap-added rasterized magnitude of the target
    (true per-slice magnitudes), the re-blur baseline and the network, side by side.
    Audio (``examples/{input,baseline,network}``): reconstructions with the true phase.

    Args:
        seconds: length of the excerpt shown.
        every_n_epochs: how often.
    """

    module = "sliceq22.lit.deoverlap.DeOverlapModule"  # the model it illustrates (checked by lit.run.fit)
    experiment = "deoverlap"

    def on_validation_epoch_end(self, trainer: L.Trainer, module) -> None:
        found = self._writer_and_item(trainer)
        if found is None:
            return
        writer, mixture, step = found
        t = module.transform
        x = mixture[:1, : int(self.seconds * t.sample_rate)].to(module.device)  # left channel
        with torch.no_grad():
            C, ola = module.analyse(x)
            estimates = {"target": C.abs(), "baseline": analytic_deoverlap(module.geometry, ola, "reblur"), "network": module(ola)}
            rows = []
            for name, est in estimates.items():
                full = est.map(lambda b: b.to(torch.complex64))
                rows.append(_db_image(t.overlap_add(full.rasterize()).abs()[0]))  # (bins, frames)
                if name != "target":
                    audio = module.reconstruct(est, C, x.shape[-1], "true")[0].clamp(-1, 1).cpu()
                    writer.add_audio(f"examples/{name}", audio, step, sample_rate=int(t.sample_rate))
            writer.add_audio("examples/input", x[0].clamp(-1, 1).cpu(), step, sample_rate=int(t.sample_rate))
        writer.add_image("examples/spectrogram target | baseline | network", _side_by_side(rows), step)


class DemixExamples(_Examples):
    """After validation: the first validation item's mixture and estimates in TensorBoard.

    Audio ``examples/mixture`` and ``examples/<target>``; one image ``examples/spectrogram mixture | <targets>``
    with the mixture and each estimate side by side (STFT log-magnitude of the left channel,
    the same for every model so sliCQT and STFT runs compare).

    Args:
        seconds: length of the excerpt.
        every_n_epochs: how often.
    """

    module = "sliceq22.lit.demix.DemixModule"
    experiment = "demix"

    def on_validation_epoch_end(self, trainer: L.Trainer, module) -> None:
        found = self._writer_and_item(trainer)
        if found is None:
            return
        writer, mixture, step = found
        sr = int(module.model.sample_rate)
        x = mixture[:, : int(self.seconds * sr)].to(module.device)[None].float()
        with torch.no_grad():
            y = module(x)[0]  # (targets, ch, n)
        window = torch.hann_window(2048, device=x.device)
        audio = {"mixture": x[0], **{t: y[j] for j, t in enumerate(module.targets)}}
        rows = []
        for name, a in audio.items():
            writer.add_audio(f"examples/{name}", a.mean(0).clamp(-1, 1).cpu(), step, sample_rate=sr)
            rows.append(_db_image(torch.stft(a[0], 2048, 512, window=window, return_complex=True).abs()))
        writer.add_image("examples/spectrogram " + " | ".join(audio), _side_by_side(rows), step)
