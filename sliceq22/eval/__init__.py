"""Evaluation: metrics, oracles and figures."""
