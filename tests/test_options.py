"""Option checks: what Hydra delivers from a mistyped command line is named, not a TypeError."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sliceq22.options import check_flag, check_number


def test_flags_must_be_real_booleans():
    assert check_flag("overwrite", True) is True and check_flag("overwrite", False) is False
    for bad in ("no", "false", 0, 1, None):
        with pytest.raises(ValueError, match=f"overwrite must be true or false, got {bad!r}"):
            check_flag("overwrite", bad)


def test_numbers_bounds_integers_and_null():
    assert check_number("seconds", 2.5, above=0) == 2.5
    assert check_number("seconds", np.float32(2.5), above=0) == 2.5  # numpy scalars are numbers
    assert check_number("max_tracks", None, at_least=1, integer=True, optional=True) is None
    cases = [
        (dict(value="abc", above=0), "seconds must be a number > 0, got 'abc'"),
        (dict(value=True, above=0), "got True"),  # a bool is not a number here
        (dict(value=math.nan, above=0), "got nan"),
        (dict(value=math.inf), "got inf"),
        (dict(value=0, above=0), "must be a number > 0, got 0"),
        (dict(value=None, above=0), "got None"),  # not optional
        (dict(value=2.0, integer=True, at_least=1), "must be an integer >= 1, got 2.0"),
        (dict(value=-1, at_least=0, optional=True, hint=": whole tracks"), r"a number >= 0 \(or null\): whole tracks, got -1"),
    ]
    for kwargs, needle in cases:
        with pytest.raises(ValueError, match=needle):
            check_number("seconds", **kwargs)
