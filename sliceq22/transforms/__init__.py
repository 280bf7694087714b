"""Time-frequency transforms: the sliCQT (ragged, matrix, rasterized forms), overlap-add, STFT.

Public API::

    from sliceq22.transforms import SliCQT, STFT
    t = SliCQT(scale="bark", fmin=32.9, fmax=22050, bins=262, sample_rate=44100)
    C = t(x)                        # ragged: C.blocks[g] is (..., bins_g, slices, M_g)
    x_hat = t.inverse(C, length=x.shape[-1])
    C.to_matrix(), C.rasterize()    # (..., bins, slices, M_max)
    t.overlap_add(C)                # tuple of (..., bins_g, frames_g)
"""

from .coefficients import SliCQCoefficients
from .factory import TRANSFORMS, Decoder, make_filterbanks
from .overlap import overlap_add, overlap_add_adjoint, overlap_add_pinv
from .scales import SCALES, FrequencyScale, make_scale
from .slicqt import SliCQT, next_fast_len, suggest_slice_len
from .stft import STFT

__all__ = [
    "SCALES",
    "STFT",
    "TRANSFORMS",
    "Decoder",
    "FrequencyScale",
    "SliCQCoefficients",
    "SliCQT",
    "make_filterbanks",
    "make_scale",
    "next_fast_len",
    "overlap_add",
    "overlap_add_adjoint",
    "overlap_add_pinv",
    "suggest_slice_len",
]
