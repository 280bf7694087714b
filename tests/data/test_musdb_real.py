"""On the real MUSDB18-HQ (set MUSDB_PATH to the decoded wav folder): the standard split."""

from __future__ import annotations

import os

import pytest

from sliceq22.data.musdb import find_tracks

ROOT = os.environ.get("MUSDB_PATH")
pytestmark = [pytest.mark.musdb, pytest.mark.skipif(not ROOT, reason="set MUSDB_PATH to MUSDB18-HQ")]


def test_standard_split():
    assert [len(find_tracks(ROOT, s)) for s in ("train", "valid", "test")] == [86, 14, 50]
