"""Classic methods as torch layers: a pure function plus a thin nn.Module each."""

from .dtw import DTW, SoftDTW, cosine_cost, dtw, euclidean_cost, soft_dtw

__all__ = ["DTW", "SoftDTW", "cosine_cost", "dtw", "euclidean_cost", "soft_dtw"]
from .chroma import Chroma  # noqa: E402

__all__ += ["Chroma"]
from .nmf import NMF, beta_divergence, nmf  # noqa: E402

__all__ += ["NMF", "beta_divergence", "nmf"]
from .snpa import project_capped_simplex, snpa  # noqa: E402

__all__ += ["project_capped_simplex", "snpa"]
from .ilrma import ILRMA, ilrma, projection_back  # noqa: E402

__all__ += ["ILRMA", "ilrma", "projection_back"]
