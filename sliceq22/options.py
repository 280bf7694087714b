"""Checks of user options as the command line delivers them.

Hydra passes ``overwrite=no`` as the string ``'no'`` (truthy) and ``seconds=abc`` as a string
that fails later in a comparison, as a ``TypeError`` naming neither key nor value. These checks
run before any work and raise a ``ValueError`` naming both (printed by :mod:`sliceq22.cli` as
one ``error: ...`` line).
"""

from __future__ import annotations

import math
import numbers


def check_flag(name: str, value) -> bool:
    """``value`` must be a real bool (``true``/``false`` on the command line)."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return value


def check_number(
    name: str,
    value,
    *,
    above: float | None = None,
    at_least: float | None = None,
    integer: bool = False,
    optional: bool = False,
    hint: str = "",
):
    """``value`` must be a finite number (an integer with ``integer``), ``> above`` and/or
    ``>= at_least``; ``None`` passes with ``optional``. Returns ``value``.

    ``hint`` is appended to the message (what ``null`` means, a typical value).
    """
    if value is None and optional:
        return None
    kind = "an integer" if integer else "a number"
    bounds = [f"> {above:g}" for _ in [0] if above is not None] + [f">= {at_least:g}" for _ in [0] if at_least is not None]
    wanted = f"{kind}{' ' + ' and '.join(bounds) if bounds else ''}{' (or null)' if optional else ''}{hint}"
    is_number = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not is_number or not math.isfinite(value) or (integer and not isinstance(value, numbers.Integral)):
        raise ValueError(f"{name} must be {wanted}, got {value!r}")
    if (above is not None and not value > above) or (at_least is not None and not value >= at_least):
        raise ValueError(f"{name} must be {wanted}, got {value!r}")
    return value
