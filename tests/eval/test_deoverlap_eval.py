"""The de-overlap evaluation command ranks methods and runs a network on unseen transforms."""

from __future__ import annotations

import json
import os

import pytest

from sliceq22.eval.deoverlap import evaluate, load_transform, main


def test_evaluate_baselines(embedded_root):
    res = evaluate(embedded_root, ["slicqt_vqlog"], seconds=2.0, refine=1)
    r = res["slicqt_vqlog"]
    assert r["tracks"] == 1 and not r["unseen_by_network"]
    assert r["equal"] < r["window"] < r["reblur"] < r["reblur+1"]


def test_cli_and_unknown_transform(embedded_root, tmp_path, capsys):
    main(["--root", embedded_root, "--transforms", "slicqt_vqlog", "--seconds", "2", "--out", str(tmp_path / "r.json")])
    assert "reblur" in capsys.readouterr().out and (tmp_path / "r.json").is_file()
    # --out data/embedded/render.json replaced the dataset's manifest: an existing file is refused first
    manifest = os.path.join(embedded_root, "render.json")
    before = open(manifest).read()
    with pytest.raises(SystemExit, match="render.json exists: refusing to overwrite it"):
        main(["--root", embedded_root, "--transforms", "slicqt_vqlog", "--seconds", "2", "--out", manifest])
    assert open(manifest).read() == before
    main(["--root", embedded_root, "--transforms", "slicqt_vqlog", "--seconds", "1", "--out", str(tmp_path / "r.json"), "--overwrite"])
    assert json.loads((tmp_path / "r.json").read_text())["seconds"] == 1.0
    with pytest.raises(SystemExit):
        main(["--root", embedded_root, "--refine", "-1"])
    assert "--refine takes iteration counts >= 1" in capsys.readouterr().err
    with pytest.raises(ValueError, match="transform config 'slicqt_bark' with bins=abc"):  # a Hydra-wrapped error before
        load_transform("slicqt_bark:bins=abc")
    with pytest.raises(ValueError, match="unknown transform config"):
        load_transform("slicqt_nope")


def test_transform_overrides():
    t = load_transform("slicqt_bark:fast_sizes=true,bins=64")
    assert t.fast_sizes and t.bins == 64
    with pytest.raises(ValueError, match="bad override 'nbins=3'"):
        load_transform("slicqt_bark:nbins=3")
    with pytest.raises(ValueError, match="bad override 'fast_sizes'"):
        load_transform("slicqt_bark:fast_sizes")
