"""Export a demixing checkpoint to ONNX: the whole separator, sliCQT and inverse included.

    python -m sliceq22.export --ckpt outputs/demix/<run>/checkpoints/last.ckpt --out demix.onnx [--seconds 10]

The graph takes ``(1, channels, samples)`` float32 audio at the model's sample rate for a fixed
``samples = seconds * sample_rate`` (recorded with the targets, rate and channels in the file's
``metadata_props``) (the sliCQT's slice count is part of the graph) and returns
``(1, targets, channels, samples)``; run longer audio in chunks of that length (the overlapping
cross-fade of :func:`sliceq22.apply.apply_chunked` is what ``infer.py`` does). The sliCQT keeps
complex values only between FFTs and element-wise ops, so the exporter (``torch.onnx.export``,
dynamo) needs no complex reshapes; the STFT control exports too (its inverse is a written-out
overlap-add: torch's ``istft`` decomposition gives onnxruntime an invalid graph). With
onnxruntime installed, the export
is checked: the SDR of its estimates against the eager model's on the same noise is printed
(onnxruntime's DFT of non-power-of-two sizes is a direct sum, ~2e-4 of the peak, so not 1e-7).
Needs ``pip install sliceq22[export]``.
"""

from __future__ import annotations

import argparse
import os

import torch

from sliceq22.cli import user_errors


def metadata(model: torch.nn.Module, samples: int) -> dict[str, str]:
    """The ONNX file's ``metadata_props``: targets in output order, rate, channels, length, producer."""
    import sliceq22

    return {"targets": ",".join(model.targets), "sample_rate": f"{model.sample_rate:g}", "channels": str(model.channels),
            "samples": str(samples), "producer": f"sliceq22 {sliceq22.__version__}"}


def export_onnx(model: torch.nn.Module, path: str, seconds: float = 10.0, overwrite: bool = False, check: bool = True) -> dict:
    """Export a separator (``SliCQDemixer`` / ``PerTargetDemixer``) to ``path``.

    Returns:
        ``{"path", "samples", "inputs", "outputs", "sdr_db"}``; ``sdr_db`` is the per-target SDR
        of onnxruntime's estimates against eager ones (``None`` without onnxruntime or check).

    Raises:
        ValueError: ``path`` exists (and not ``overwrite``), a Wiener post-filter is on, the
            length is not positive, or an STFT's hop does not divide its n_fft.
    """
    from sliceq22.transforms import STFT

    import math
    import tempfile

    if os.path.isdir(path):
        raise ValueError(f"{path} is a folder: give the ONNX file's path (e.g. {os.path.join(path, 'demix.onnx')})")
    if os.path.exists(path) and not overwrite:
        raise ValueError(f"{path} exists: refusing to overwrite it (choose another path, or overwrite=True / --overwrite)")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds) or not seconds > 0:
        raise ValueError(f"seconds must be a finite number > 0, got {seconds!r}")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):  # fail now, not after minutes of export
        raise ValueError(f"the folder of {path} does not exist: create {folder} first")
    if getattr(model, "wiener_iterations", 0):
        raise ValueError("export the separator without its Wiener post-filter (wiener_iterations=0)")
    transforms = [b.transform for b in model.branches.values()] if hasattr(model, "branches") else [model.transform]
    if any(isinstance(t, STFT) and not t.exportable for t in transforms):
        raise ValueError("an STFT control exports only with center=True and a hop that divides n_fft (torch.istft does not export)")
    samples = int(round(seconds * model.sample_rate))
    if samples <= 0:
        raise ValueError(f"seconds={seconds} gives no sample at {model.sample_rate:g} Hz: export at least one sample's length")
    model = model.eval().cpu()
    x = 0.1 * torch.randn(1, model.channels, samples, generator=torch.Generator().manual_seed(0))
    program = torch.onnx.export(model, (x,), dynamo=True, optimize=False, verbose=False,
                                input_names=["audio"], output_names=["estimates"])
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=os.path.basename(path) + ".", suffix=".partial")
    os.close(fd)
    try:
        program.save(tmp)
        try:  # what a deployment needs to call the graph, in the file itself
            import onnx

            proto = onnx.load(tmp)
            onnx.helper.set_model_props(proto, metadata(model, samples))
            onnx.save(proto, tmp)
        except ImportError:  # pragma: no cover - onnx comes with the exporter
            pass
        os.replace(tmp, path)  # no half-written model under the user's name
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    result = {"path": path, "samples": samples, "inputs": ["audio"], "outputs": ["estimates"], "sdr_db": None}
    if check:
        try:
            import onnxruntime as ort
        except ImportError:
            return result
        options = ort.SessionOptions()
        options.log_severity_level = 3
        session = ort.InferenceSession(path, options)
        y = torch.from_numpy(session.run(None, {"audio": x.numpy()})[0])
        with torch.no_grad():
            ref = model(x)
        sdr = 10 * torch.log10(ref.square().sum((-1, -2)) / (ref - y).square().sum((-1, -2)).clamp_min(1e-20))
        result["sdr_db"] = {t: float(v) for t, v in zip(model.targets, sdr[0])}
    return result


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ckpt", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--overwrite", action="store_true")
    a = p.parse_args(argv)
    from sliceq22.lit.infer import load_separator

    with user_errors():
        result = export_onnx(load_separator(a.ckpt, wiener_iterations=0), a.out, a.seconds, a.overwrite)
    print(f"wrote {result['path']}: input 'audio' (1, channels, {result['samples']}), output 'estimates'")
    if result["sdr_db"]:
        print("onnxruntime vs eager SDR (dB): " + ", ".join(f"{t} {v:.1f}" for t, v in result["sdr_db"].items()))


if __name__ == "__main__":
    main()
