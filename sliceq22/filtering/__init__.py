"""Post-filters on complex estimates: the multichannel Wiener filter and its EM iterations."""

from .wiener import multichannel_wiener, wiener_em

__all__ = ["multichannel_wiener", "wiener_em"]
