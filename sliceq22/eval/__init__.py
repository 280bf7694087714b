"""Evaluation: BSS Eval v4 (museval-exact), score stores, oracles, alignment metrics, figures.

``from sliceq22.eval import bss_eval`` is the measuring stick every separation result uses.
"""

from sliceq22.eval.bsseval import bss_eval, sdr_mdx

__all__ = ["bss_eval", "sdr_mdx"]
