"""Plain nn.Module networks (no Lightning here): de-overlap, and later demixing."""

from .deoverlap import METHODS, DeOverlapGeometry, DeOverlapNet, analytic_deoverlap, refine_with_phase

__all__ = ["METHODS", "DeOverlapGeometry", "DeOverlapNet", "analytic_deoverlap", "refine_with_phase"]
