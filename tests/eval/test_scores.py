"""Score files and aggregation: museval's own readers agree with ours."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from sliceq22.eval.scores import TrackScores, aggregate, aggregate_mdx, evaluate_track, format_table


def _scores(name: str, seed: int) -> TrackScores:
    rng = np.random.default_rng(seed)
    s = TrackScores(name)
    for t in ("drums", "bass", "vocals"):
        vals = {m: rng.normal(5, 3, 7) for m in ("SDR", "SIR", "ISR", "SAR")}
        vals["SDR"][2] = np.nan  # a silent window
        vals["SIR"][0] = np.inf  # museval stores +inf as NaN
        s.add_target(t, vals, mdx_sdr=float(rng.normal(5, 1)))
    return s


def test_json_roundtrip_and_museval_evalstore(tmp_path):
    try:
        import museval
    except Exception as exc:  # museval needs ffmpeg at import
        pytest.skip(f"museval not importable: {exc}")
    tracks = [_scores(f"track{i}", i) for i in range(3)]
    store = museval.EvalStore()
    for tr in tracks:
        path = tmp_path / "test" / f"{tr.track_name}.json"
        tr.save(str(path))
        with pytest.raises(FileExistsError):
            tr.save(str(path))
        doc = json.loads(path.read_text())
        museval.TrackStore(tr.track_name).schema  # noqa: B018 - the schema exists
        from jsonschema import validate

        validate(doc, museval.TrackStore(tr.track_name).schema)
        store.add_track(museval.aggregate.json2df(doc, tr.track_name))
        back = TrackScores.load(str(path))
        assert back.to_dict()["targets"] == tr.to_dict()["targets"]
    theirs = store.agg_frames_tracks_scores()
    ours = aggregate(tracks)
    for (target, metric), value in theirs.items():
        assert ours[target][metric] == pytest.approx(value, abs=1e-9)
    assert math.isnan(tracks[0].targets["drums"]["SIR"][0])


def test_mdx_mean_and_table():
    tracks = [_scores(f"t{i}", i) for i in range(2)]
    mdx = aggregate_mdx(tracks)
    assert mdx["vocals"] == pytest.approx(np.mean([t.mdx["vocals"] for t in tracks]))
    assert mdx["mean"] == pytest.approx(np.mean([mdx[k] for k in ("drums", "bass", "vocals")]))
    table = format_table({"a": aggregate(tracks)})
    assert table.splitlines()[0] == "| method | drums | bass | vocals |"


def test_evaluate_track_vocals_accompaniment_scenario(music3):
    x = music3.float()
    refs = {"drums": x * 0.5, "bass": x.flip(-1) * 0.3, "vocals": x.roll(5000, -1) * 0.4}
    refs["accompaniment"] = refs["drums"] + refs["bass"]
    est = {k: v + 0.01 * x for k, v in refs.items()}
    s = evaluate_track(refs, est, 44100, "t")
    assert list(s.targets) == ["drums", "bass", "vocals", "accompaniment"]
    assert all(len(v["SDR"]) == 3 for v in s.targets.values())
    with pytest.raises(ValueError, match="at least two"):
        evaluate_track({"drums": refs["drums"]}, {"drums": est["drums"]}, 44100)
    with pytest.raises(ValueError, match="unknown targets"):
        evaluate_track(refs, {"piano": x}, 44100)


def test_mdx_sdr_zero_pads_a_short_estimate(music3):
    """The reference used to be cut to a short estimate: half an estimate scored ~+20 dB."""
    from sliceq22.eval.bsseval import sdr_mdx

    x = music3.float()
    refs = {"drums": x * 0.5, "bass": x.flip(-1) * 0.3}
    half = {k: v[:, : v.shape[1] // 2] for k, v in refs.items()}
    s = evaluate_track(refs, half, 44100, "t")
    padded = torch.stack([torch.nn.functional.pad(half[k], (0, x.shape[1] - half[k].shape[1])).T for k in refs])
    expected = sdr_mdx(torch.stack([refs[k].T for k in refs]), padded)
    assert s.mdx["drums"] == pytest.approx(float(expected[0])) and s.mdx["drums"] < 5


def test_estimates_of_different_lengths_and_bad_channels_per_target():
    """One estimate 100 samples short was a torch.stack RuntimeError (a traceback from the CLI)."""
    from sliceq22.data.synth import synth_mixture
    from sliceq22.eval.scores import evaluate_track

    refs = {t: torch.from_numpy(synth_mixture(1.5, 8000, seed=i)[:2]).double() for i, t in enumerate(("drums", "bass", "vocals"))}
    ests = {t: 0.8 * r + 0.1 * sum(refs.values()) for t, r in refs.items()}
    whole = evaluate_track(refs, ests, 8000)
    short = dict(ests, bass=ests["bass"][:, :-100])
    padded = dict(ests, bass=torch.nn.functional.pad(ests["bass"][:, :-100], (0, 100)))
    assert evaluate_track(refs, short, 8000).medians() == evaluate_track(refs, padded, 8000).medians()
    assert whole.medians()["drums"]["SDR"] > 0
    with pytest.raises(ValueError, match="the bass estimate has shape"):
        evaluate_track(refs, dict(ests, bass=ests["bass"][:1]), 8000)
    with pytest.raises(ValueError, match="the vocals estimate contains NaN"):
        evaluate_track(refs, dict(ests, vocals=ests["vocals"] * float("nan")), 8000)
