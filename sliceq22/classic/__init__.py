"""Classic methods as torch layers: a pure function plus a thin nn.Module each."""

from .chroma import Chroma, chroma_onsets
from .dtw import DTW, SoftDTW, cosine_cost, dtw, euclidean_cost, soft_dtw
from .ilrma import ILRMA, ilrma, projection_back
from .nmf import NMF, beta_divergence, nmf
from .snpa import project_capped_simplex, snpa

__all__ = [
    "DTW", "ILRMA", "NMF", "Chroma", "SoftDTW", "beta_divergence", "chroma_onsets", "cosine_cost", "dtw", "euclidean_cost",
    "ilrma", "nmf", "project_capped_simplex", "projection_back", "snpa", "soft_dtw",
]
