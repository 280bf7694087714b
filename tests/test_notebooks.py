"""The numbered tours in notebooks/ run from top to bottom."""

from __future__ import annotations

import os
import runpy

import pytest

NOTEBOOKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "notebooks")


@pytest.mark.parametrize("name", sorted(f for f in os.listdir(NOTEBOOKS) if f.endswith(".py")))
def test_notebook_runs(name, capsys):
    runpy.run_path(os.path.join(NOTEBOOKS, name), run_name="__main__")
    assert "round trip" in capsys.readouterr().out
