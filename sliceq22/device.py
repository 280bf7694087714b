"""Device names from configs and command lines, checked before any work."""

from __future__ import annotations

import torch


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``"auto"`` (CUDA when usable, else the CPU), ``"cpu"``, ``"cuda"``/``"cuda:N"`` (``"gpu"``
    is read as ``"cuda"``), ``"mps"``; ``None`` is ``"cpu"``.

    Raises:
        ValueError: an unknown name, or a device this machine's torch cannot use, saying what to
            pass instead (torch's own messages name neither the option nor the fix).
    """
    name = "cpu" if device is None else str(device).strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "gpu" or name.startswith("gpu:"):
        name = "cuda" + name[3:]
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise ValueError(f"unknown device {device!r}: use cpu, cuda, cuda:N, mps or auto") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            build = "a CPU-only build" if torch.version.cuda is None else f"built for CUDA {torch.version.cuda}, no usable GPU"
            raise ValueError(f"device={device} but this torch ({torch.__version__}) is {build}: use device=cpu or device=auto")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device={device} but only {torch.cuda.device_count()} CUDA device(s) are visible")
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device={device} but MPS is not available here: use device=cpu or device=auto")
    elif dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"unsupported device {device!r}: use cpu, cuda, cuda:N, mps or auto")
    return dev
