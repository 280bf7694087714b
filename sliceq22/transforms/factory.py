"""One factory for encoder/decoder pairs, so configs can swap the sliCQT and the STFT.

``encoder, decoder = make_filterbanks("slicqt", scale="bark", ...)``: the encoder maps audio
``(..., samples)`` to coefficients, the decoder maps ``(coefficients, length)`` back to audio.
The decoder shares the encoder's buffers (it holds the encoder), so moving one moves both.
"""

from __future__ import annotations

from torch import Tensor, nn

from .slicqt import SliCQT
from .stft import STFT

TRANSFORMS = {"slicqt": SliCQT, "stft": STFT}


class Decoder(nn.Module):
    """The inverse of an encoder: ``decoder(C, length) == encoder.inverse(C, length)``."""

    def __init__(self, encoder: nn.Module):
        super().__init__()
        self.encoder = encoder

    def forward(self, C, length: int) -> Tensor:
        return self.encoder.inverse(C, length)


def make_filterbanks(kind: str = "slicqt", **kwargs) -> tuple[nn.Module, Decoder]:
    """Build a transform and its inverse.

    Args:
        kind: ``"slicqt"`` or ``"stft"``.
        **kwargs: the transform's own arguments (see :class:`SliCQT`, :class:`STFT`).

    Returns:
        ``(encoder, decoder)``.
    """
    if kind not in TRANSFORMS:
        raise ValueError(f"unknown transform {kind!r}; choose one of {', '.join(TRANSFORMS)}")
    encoder = TRANSFORMS[kind](**kwargs)
    return encoder, Decoder(encoder)
