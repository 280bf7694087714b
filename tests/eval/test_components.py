"""Seed 002's component matching: disjoint parts are recovered, the seed's units are reproduced."""

from __future__ import annotations

import math

import pytest
import torch

from sliceq22.eval.components import METHODS, components, match_snrs


@pytest.mark.parametrize("method", METHODS)
def test_disjoint_parts_are_recovered(method):
    sr, n = 22050, 22050 * 2
    t = torch.arange(n) / sr
    gate1 = ((t % 0.5) < 0.25).double()
    gate2 = 1 - gate1
    stems = torch.stack([gate1 * torch.sin(2 * math.pi * 440 * t), gate2 * 0.7 * torch.sin(2 * math.pi * 1375 * t)])
    res = match_snrs(stems, components(stems.sum(0), 2, method, n_fft=1024, hop=256))
    assert sorted(res["match"]) == [0, 1]
    assert min(res["snr_db"]) > 8
    assert res["seed_units"]["min"] == pytest.approx(min(res["snr_db"]) / 2, abs=1e-9)  # 10 log10 of an amplitude ratio


def test_a_larger_render_serves_fewer_pieces(tmp_path):
    """--pieces 1 on a root holding a finished 2-piece render used to be refused ('already
    holds a render ...'): the first pieces of it are used."""
    from sliceq22.data.scenarios import render_bach10
    from sliceq22.eval.components import evaluate

    root = str(tmp_path / "b10")
    render_bach10(root, pieces=2, seed=0)
    res = evaluate(root, pieces=1, methods=("nmf",), seconds=2.0)
    assert res["pieces"] == 1 and "nmf" in res["summary"]


def test_cli_mistakes_are_one_line(tmp_path, capsys):
    """--pieces 0 printed a table of NaN; a folder holding something else was a traceback."""
    from sliceq22.eval.components import main

    for argv, needle in ((["--pieces", "0"], "--pieces must be >= 1"), (["--seconds", "-1"], "--seconds must be >= 0")):
        with pytest.raises(SystemExit):
            main(argv)
        assert needle in capsys.readouterr().err
    (tmp_path / "render.json").write_text('{"format": 2, "tracks": 3}')
    with pytest.raises(SystemExit, match="^error: .*already holds an unfinished render made with other parameters"):
        main(["--root", str(tmp_path), "--pieces", "1"])


def test_results_files_never_replace_a_users_file(tmp_path):
    """--out/--json wrote over any existing file (after minutes of work)."""
    from sliceq22.align.__main__ import main as align_main
    from sliceq22.cli import write_json
    from sliceq22.eval.components import main

    mine = tmp_path / "notes.json"
    mine.write_text("the user's")
    with pytest.raises(SystemExit, match="notes.json exists: refusing to overwrite it"):
        main(["--root", str(tmp_path / "never"), "--out", str(mine)])
    with pytest.raises(SystemExit, match="--json .*notes.json exists"):
        align_main(["--root", str(tmp_path / "never"), "--json", str(mine)])
    assert mine.read_text() == "the user's" and not (tmp_path / "never").exists()
    write_json(str(tmp_path / "r.json"), {"a": 1})
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".partial")] == []
