"""Piano-to-orchestra alignment (seed 000): systems with offline/online stages, and a runner."""

from .systems import SEED_STEPS, SEED_WEIGHTS, SYSTEMS, compose, offline_processing, online_processing

__all__ = ["SEED_STEPS", "SEED_WEIGHTS", "SYSTEMS", "compose", "offline_processing", "online_processing"]
