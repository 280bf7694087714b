"""Training the de-overlap network: sliCQT on the fly, log-magnitude and waveform losses.

Inputs are computed on the device from audio batches of the DataModule (mixtures and, with
``use_stems``, one stem per item as extra music): ``C = t(x)``, ``y = A |C|``; the network
predicts ``|C|`` per slice from ``y``. Metrics (``train/...``, ``val/...``):

* ``snr_db``: waveform SNR of ``t.inverse(est * exp(i angle C))`` against ``x`` (true slice
  phase), after ``refine_iterations`` phase-consistency iterations
  (:func:`~sliceq22.models.deoverlap.refine_with_phase`; 0: the network alone): the headline
  number; ``baseline_snr_db`` is the same for the re-blur baseline with the same iterations;
  with iterations, ``snr_db_direct`` and ``baseline_snr_db_direct`` are the values without;
* ``snr_db_olaphase``: the same with the phase of the overlap-added complex coefficients;
* ``mse``: magnitude MSE; ``spectral_convergence``: ``||est - |C| ||_F / || |C| ||_F``.

Checkpoints carry the resolved ``model`` config (``sliceq22_config``), so ``infer.py`` rebuilds
the module with ``instantiate`` and loads weights with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from sliceq22.lit.base import CONFIG_KEY, ConfiguredModule  # noqa: F401  (CONFIG_KEY re-exported)
from sliceq22.models.deoverlap import DeOverlapGeometry, DeOverlapNet, analytic_deoverlap, refine_with_phase
from sliceq22.transforms import SliCQCoefficients, SliCQT, overlap_add_adjoint



def snr_db(x: Tensor, y: Tensor) -> Tensor:
    """Per-item SNR in dB of ``y`` against reference ``x``, over all but the first dim."""
    dims = tuple(range(1, x.dim()))
    return 10 * torch.log10(x.pow(2).sum(dims).clamp_min(1e-20) / (x - y).pow(2).sum(dims).clamp_min(1e-20))


class DeOverlapModule(ConfiguredModule):
    """Lightning wrapper of :class:`~sliceq22.models.DeOverlapNet`.

    Args:
        transform: the sliCQT (built once, moved with the module, never stored in checkpoints).
        net: a callable ``geometry -> DeOverlapNet`` (a Hydra ``_partial_``).
        optimizer: a callable ``params -> Optimizer``.
        scheduler: ``optimizer -> LR scheduler`` or ``None``.
        logmag_weight: weight of the log-magnitude MSE.
        wave_weight: weight of the waveform loss (negative SNR in dB, true phase).
        use_stems: add one random stem per item to the training audio.
        refine_iterations: phase-consistency iterations after the network, whenever a phase
            is given (training loss, metrics, inference); the network learns the estimate
            that is best *after* them.
        eval_max_seconds: validation/test items longer than this are scored on their centred
            excerpt of that length (whole MUSDB tracks, ``data.valid_seconds=null``, would need
            the sliCQT and its gradients-free intermediates of minutes of audio at once);
            ``None``: whole items.
        checkpoint_config: the resolved config to store in checkpoints (set by ``sliceq22.lit.run``).
    """

    def __init__(
        self,
        transform: SliCQT,
        net: Callable[[DeOverlapGeometry], DeOverlapNet],
        optimizer: Callable,
        scheduler: Callable | None = None,
        logmag_weight: float = 1.0,
        wave_weight: float = 0.05,
        use_stems: bool = True,
        refine_iterations: int = 0,
        checkpoint_config: dict | None = None,
        eval_max_seconds: float | None = 30.0,
    ):
        super().__init__()
        if not isinstance(transform, SliCQT):
            raise ValueError(f"the de-overlap experiment needs a sliCQT transform, got {type(transform).__name__}")
        self.transform = transform
        self.geometry = DeOverlapGeometry(transform)
        self.net = net(self.geometry)
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler
        self.logmag_weight, self.wave_weight, self.use_stems = logmag_weight, wave_weight, use_stems
        if refine_iterations < 0:
            raise ValueError(f"refine_iterations must be >= 0, got {refine_iterations}")
        self.refine_iterations = int(refine_iterations)
        self.checkpoint_config = checkpoint_config
        if eval_max_seconds is not None and not eval_max_seconds > 0:
            raise ValueError(f"eval_max_seconds must be > 0 or null, got {eval_max_seconds}")
        self.eval_max_seconds = eval_max_seconds

    # ------------------------------------------------------------------ inference API
    def forward(self, ola: tuple[Tensor, ...]) -> SliCQCoefficients:
        return self.net(ola)

    @torch.no_grad()
    def analyse(self, x: Tensor) -> tuple[SliCQCoefficients, tuple[Tensor, ...]]:
        """``(C, A|C|)`` of audio ``x`` of shape ``(..., samples)``, in float32."""
        C = self.transform(x.float())
        return C, self.transform.overlap_add(C.abs())

    def reconstruct(
        self, magnitude: SliCQCoefficients, C: SliCQCoefficients, length: int, phase: str = "true", iterations: int | None = None
    ) -> Tensor:
        """Audio from per-slice magnitudes with the true slice phase or the overlap-added phase,
        after ``iterations`` phase-consistency iterations (default: ``refine_iterations``)."""
        if phase == "true":
            rotor = C.map(lambda b: torch.exp(1j * torch.angle(b)))
        elif phase == "ola":
            ola = self.transform.overlap_add(C)
            rotor = SliCQCoefficients(
                [torch.exp(1j * torch.angle(overlap_add_adjoint(y, m))) for y, (_, m) in zip(ola, self.transform.layout)]
            )
        else:
            raise ValueError(f"phase must be 'true' or 'ola', got {phase!r}")
        iterations = self.refine_iterations if iterations is None else iterations
        if iterations:
            magnitude = refine_with_phase(self.transform, magnitude, rotor, length, iterations)
        return self.transform.inverse(magnitude * rotor, length)

    # ------------------------------------------------------------------ training
    def _audio(self, batch, train: bool) -> Tensor:
        mixture, targets = batch
        x = mixture
        if train and self.use_stems and targets.shape[1] > 0:
            pick = torch.randint(targets.shape[1], (targets.shape[0],), device=targets.device)
            x = torch.cat((mixture, targets[torch.arange(targets.shape[0], device=targets.device), pick]))
        if not train and self.eval_max_seconds is not None:
            n = int(round(self.eval_max_seconds * self.transform.sample_rate))
            if x.shape[-1] > n:
                start = (x.shape[-1] - n) // 2
                x = x[..., start : start + n]
        return x.float()

    def _step(self, batch, stage: str) -> Tensor:
        x = self._audio(batch, stage == "train")
        C, ola = self.analyse(x)
        mag = C.abs()
        est = self.net(ola)
        eps = 1e-5
        sq_err = sum(((torch.log(e + eps) - torch.log(m + eps)) ** 2).sum() for e, m in zip(est.blocks, mag.blocks))
        count = sum(m.numel() for m in mag.blocks)
        logmag = sq_err / count
        loss = self.logmag_weight * logmag
        need_wave = self.wave_weight > 0 or stage != "train"
        if need_wave:
            snr = snr_db(x, self.reconstruct(est, C, x.shape[-1], "true"))
            loss = loss - self.wave_weight * snr.mean()
        log = {f"{stage}/loss": loss, f"{stage}/logmag_mse": logmag}
        if stage != "train":
            with torch.no_grad():
                diff2 = sum(((e - m) ** 2).sum() for e, m in zip(est.blocks, mag.blocks))
                ref2 = sum((m**2).sum() for m in mag.blocks)
                base = analytic_deoverlap(self.geometry, ola, "reblur")
                if self.refine_iterations:
                    L = x.shape[-1]
                    log[f"{stage}/snr_db_direct"] = snr_db(x, self.reconstruct(est, C, L, "true", 0)).mean()
                    log[f"{stage}/baseline_snr_db_direct"] = snr_db(x, self.reconstruct(base, C, L, "true", 0)).mean()
                log.update(
                    {
                        f"{stage}/snr_db": snr.mean(),
                        f"{stage}/snr_db_olaphase": snr_db(x, self.reconstruct(est, C, x.shape[-1], "ola")).mean(),
                        f"{stage}/baseline_snr_db": snr_db(x, self.reconstruct(base, C, x.shape[-1], "true")).mean(),
                        f"{stage}/mse": diff2 / count,
                        f"{stage}/spectral_convergence": (diff2 / ref2).sqrt(),
                    }
                )
        elif need_wave:
            log[f"{stage}/snr_db"] = snr.mean()
        self._log(log, stage, x.shape[0])
        return loss

    def trainable_parameters(self):
        return self.net.parameters()
