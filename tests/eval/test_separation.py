"""The evaluation path end to end on the tiny embedded set: separator -> JSON -> summary,
a folder of estimates, the CLI, evaluate.py through Hydra, and the multirun collector."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest

from sliceq22.eval import collect
from sliceq22.eval.__main__ import main as eval_main
from sliceq22.eval.oracles import Oracle
from sliceq22.eval.separation import evaluate_estimates, evaluate_separator, median_sdr
from sliceq22.separator import MixtureAsEstimate
from sliceq22.transforms import STFT

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def oracle_run(embedded_root, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("oracle"))
    summary = evaluate_separator(Oracle(STFT(2048, 512), "irm2"), embedded_root, out, save_estimates=True, name="irm2")
    return out, summary


def test_oracle_beats_the_mixture(embedded_root, oracle_run, tmp_path):
    out, summary = oracle_run
    floor = evaluate_separator(MixtureAsEstimate(), embedded_root, str(tmp_path))
    assert summary["tracks"] == 1 and set(summary["sigsep"]) == {"drums", "bass", "other", "vocals"}
    for t in summary["sigsep"]:
        assert summary["sigsep"][t]["SDR"] > floor["sigsep"][t]["SDR"] + 3
    assert median_sdr(summary) > median_sdr(floor)
    track_json = next(iter(os.scandir(os.path.join(out, "test")))).path
    doc = json.load(open(track_json))
    assert {t["name"] for t in doc["targets"]} == {"drums", "bass", "other", "vocals"}
    assert os.path.isfile(os.path.join(out, "summary.md"))


def test_rerun_reuses_scores(embedded_root, oracle_run):
    out, summary = oracle_run
    track_json = next(iter(os.scandir(os.path.join(out, "test")))).path
    before = os.stat(track_json).st_mtime_ns
    again = evaluate_separator(Oracle(STFT(2048, 512), "irm2"), embedded_root, out, name="irm2")
    assert os.stat(track_json).st_mtime_ns == before
    assert again["sigsep"] == summary["sigsep"]


def test_folder_of_estimates_scores_the_same(embedded_root, oracle_run, tmp_path):
    out, summary = oracle_run
    res = evaluate_estimates(embedded_root, os.path.join(out, "estimates"), str(tmp_path / "a"))
    for t, m in summary["sigsep"].items():
        assert res["sigsep"][t]["SDR"] == pytest.approx(m["SDR"], abs=1e-3)
    cli = eval_main(["--root", embedded_root, "--estimates", os.path.join(out, "estimates"), "--out", str(tmp_path / "b")])
    assert cli["sigsep"] == res["sigsep"]
    with pytest.raises(ValueError, match="no estimates"):
        evaluate_estimates(embedded_root, str(tmp_path / "empty"), str(tmp_path / "c"))


def test_evaluate_py_and_collector(embedded_root, tmp_path):
    sweep = tmp_path / "sweep"
    cmd = [sys.executable, os.path.join(ROOT, "evaluate.py"), "-m", "separator.method=irm1,mpi", "transform=stft_2048",
           f"data.root={embedded_root}", "data.render=null", "seconds=2", f"hydra.sweep.dir={sweep}"]
    subprocess.run(cmd, check=True, cwd=ROOT, capture_output=True, timeout=300)
    res = collect.collect(str(sweep))
    assert {r["job"] for r in res["ranking"]} == {"separator.method=irm1", "separator.method=mpi"}  # the varying overrides
    meds = [r["median_over_targets"] for r in res["ranking"]]
    assert meds == sorted(meds, reverse=True)
    assert os.path.isfile(sweep / "collected.md") and os.path.isfile(sweep / "boxplot_SDR.png")
    table = collect.pivot(str(sweep), "transform", "separator.method")
    assert "| transform | irm1 | mpi |" in table and "**vocals**" in table


def test_scores_of_another_run_are_never_reused_under_a_new_name(embedded_root, oracle_run, tmp_path):
    """A folder holding one method's track scores used to be 'resumed' by another method, whose
    summary then reported the first method's numbers under its own name."""
    import shutil

    out, summary = oracle_run
    out = shutil.copytree(out, tmp_path / "copy")  # the fixture's folder stays as it is
    with pytest.raises(ValueError, match="holds scores of another run .*separator"):
        evaluate_separator(MixtureAsEstimate(), embedded_root, out)
    with pytest.raises(ValueError, match="differs in estimates"):  # a folder of estimates: the same rule
        first = str(tmp_path / "f")
        evaluate_estimates(embedded_root, os.path.join(out, "estimates"), first)
        os.makedirs(tmp_path / "other" / "x", exist_ok=True)
        os.symlink(os.path.join(out, "estimates", "test"), tmp_path / "other" / "test")
        evaluate_estimates(embedded_root, str(tmp_path / "other"), first)
    floor = evaluate_separator(MixtureAsEstimate(), embedded_root, out, overwrite=True)  # asked for: recomputed
    assert floor["method"] == "MixtureAsEstimate" and floor["sigsep"]["vocals"]["SDR"] < summary["sigsep"]["vocals"]["SDR"] - 3
    # the validation tracks' scores lie in <out>/train/ (as museval places them), which the check
    # missed: a second method in that folder reported the first one's scores under its own name
    valid = str(tmp_path / "valid")
    evaluate_separator(Oracle(STFT(2048, 512), "irm1"), embedded_root, valid, subset="valid", seconds=1.0)
    assert os.listdir(os.path.join(valid, "train"))
    with pytest.raises(ValueError, match="holds scores of another run"):
        evaluate_separator(MixtureAsEstimate(), embedded_root, valid, subset="valid", seconds=1.0)
    legacy = tmp_path / "legacy"
    (legacy / "test").mkdir(parents=True)
    (legacy / "test" / "x.json").write_text("{}")
    with pytest.raises(ValueError, match="unknown origin"):
        evaluate_separator(MixtureAsEstimate(), embedded_root, str(legacy))
    with pytest.raises(ValueError, match="unknown targets \\['vocal'\\]"):  # a typo was dropped silently
        evaluate_estimates(embedded_root, os.path.join(out, "estimates"), str(tmp_path / "t"), targets=["vocal", "drums"])
    with pytest.raises(ValueError, match="is the data root"):
        evaluate_estimates(embedded_root, os.path.join(out, "estimates"), embedded_root)


def test_left_out_targets_are_in_the_summary_and_errors_name_the_track(embedded_root, oracle_run, tmp_path):
    import shutil

    import numpy as np
    import soundfile as sf

    out, _ = oracle_run
    est = shutil.copytree(os.path.join(out, "estimates"), tmp_path / "est")
    track_dir = next(p for p in (est / "test").iterdir())
    (track_dir / "bass.wav").unlink()
    res = evaluate_estimates(embedded_root, str(est), str(tmp_path / "a"))
    assert res["left_out"] == {track_dir.name: ["bass"]} and "bass" not in res["per_track"][track_dir.name]
    data, rate = sf.read(track_dir / "drums.wav")
    sf.write(track_dir / "drums.wav", np.zeros_like(data), rate, subtype="FLOAT")  # a silent estimate: BSS Eval refuses
    with pytest.raises(ValueError, match=f"{track_dir.name} \\(targets .*drums.*\\): .*all-zero"):
        evaluate_estimates(embedded_root, str(est), str(tmp_path / "b"))
    data[0, 0] = np.nan
    sf.write(track_dir / "drums.wav", data, rate, subtype="FLOAT")
    with pytest.raises(ValueError, match="drums.wav contains NaN"):
        evaluate_estimates(embedded_root, str(est), str(tmp_path / "c"))


def test_changed_or_added_estimate_files_are_scored_again(embedded_root, oracle_run, tmp_path, caplog):
    """The scores of a folder were reused after its files were replaced (the mixture as every
    estimate kept the oracle's numbers); an estimate added later was never scored."""
    import logging
    import shutil

    import soundfile as sf

    out, summary = oracle_run
    est = shutil.copytree(os.path.join(out, "estimates"), tmp_path / "est")
    track_dir = next(p for p in (est / "test").iterdir())
    (track_dir / "bass.wav").unlink()
    first = evaluate_estimates(embedded_root, str(est), str(tmp_path / "s"))
    assert "bass" not in first["sigsep"] or first["left_out"]
    with caplog.at_level(logging.INFO, logger="sliceq22.eval.separation"):
        again = evaluate_estimates(embedded_root, str(est), str(tmp_path / "s"))
    assert again["sigsep"] == first["sigsep"] and "reused the scores of 1 track" in caplog.text
    mix, rate = sf.read(os.path.join(embedded_root, "test", track_dir.name, "mixture.wav"))
    for t in ("drums", "bass", "other", "vocals"):
        sf.write(track_dir / f"{t}.wav", mix, rate, subtype="FLOAT")
    changed = evaluate_estimates(embedded_root, str(est), str(tmp_path / "s"))
    assert changed["left_out"] == {} and changed["sigsep"]["vocals"]["SDR"] < summary["sigsep"]["vocals"]["SDR"] - 3


def test_a_track_with_one_audible_target_is_left_out_not_fatal(embedded_root, tmp_path):
    """vocals/accompaniment on an instrumental: BSS Eval needs two targets; the whole run died."""
    import shutil

    import numpy as np
    import soundfile as sf

    root = tmp_path / "root"
    shutil.copytree(embedded_root, root)
    track = next((root / "test").iterdir())
    data, rate = sf.read(track / "vocals.wav")
    sf.write(track / "vocals.wav", np.zeros_like(data), rate, subtype="FLOAT")
    mix = sum(sf.read(track / f"{s}.wav")[0] for s in ("drums", "bass", "other"))
    sf.write(track / "mixture.wav", mix, rate, subtype="FLOAT")
    res = evaluate_separator(MixtureAsEstimate(("vocals", "accompaniment"), scale=0.5), str(root), str(tmp_path / "o"))
    assert res["left_out"] == {track.name: ["vocals", "accompaniment"]}


def test_a_checkpoint_replaced_in_place_is_not_taken_for_the_old_one(embedded_root, tmp_path):
    ckpt = tmp_path / "model.ckpt"
    ckpt.write_bytes(b"one")
    sep = MixtureAsEstimate()
    evaluate_separator(sep, embedded_root, str(tmp_path / "o"), config={"ckpt": str(ckpt)}, max_tracks=1)
    ckpt.write_bytes(b"a retrained model")
    with pytest.raises(ValueError, match="differs in files"):
        evaluate_separator(sep, embedded_root, str(tmp_path / "o"), config={"ckpt": str(ckpt)}, max_tracks=1)


def test_a_failing_job_does_not_end_the_sweep(embedded_root, tmp_path):
    """An inadmissible sliCQT in one job of ``-m`` used to end the whole sweep (SystemExit escaped
    Hydra's launcher); the other jobs now run, the failure is logged in its job's log, the sweep
    exits 1 and the collector lists the job that did not finish."""
    sweep = tmp_path / "sweep"
    cmd = [sys.executable, os.path.join(ROOT, "evaluate.py"), "-m", "transform=slicqt_vqlog", "separator.method=irm1",
           "transform.slice_len=100,null", f"data.root={embedded_root}", "data.render=null", "seconds=2", f"hydra.sweep.dir={sweep}"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    assert os.path.isfile(sweep / "1" / "summary.json") and not os.path.exists(sweep / "0" / "summary.json")
    assert "slice_len=100 is too short" in (sweep / "0" / "evaluate.log").read_text()
    res = collect.collect(str(sweep), plot=False)
    assert list(res["unfinished"]) == ["0"] and "transform.slice_len=100" in res["unfinished"]["0"]
    assert "did not finish" in res["markdown"]


def _fake_job(sweep, name, overrides, sdr):
    job = sweep / name
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    agg = {t: {m: sdr for m in ("SDR", "SIR", "ISR", "SAR")} for t in ("bass", "vocals")}
    (job / "summary.json").write_text(json.dumps({"sigsep": agg, "per_track": {"a": {t: sdr for t in agg}}}))


def test_pivot_refuses_to_hide_jobs_and_sorts_numbers(tmp_path):
    sweep = tmp_path / "sweep"
    for i, (slice_len, bins, fmin) in enumerate([("16384", "96", "20"), ("4096", "96", "20"), ("null", "128", "20"),
                                                 ("16384", "128", "20"), ("4096", "128", "20"), ("null", "96", "20")]):
        _fake_job(sweep, str(i), [f"transform.slice_len={slice_len}", f"transform.bins={bins}", f"transform.fmin={fmin}"], i)
    table = collect.pivot(str(sweep), "transform.bins", "transform.slice_len")
    assert "| transform.bins | 4096 | 16384 | null |" in table
    assert "| 96 | 1.00 | 0.00 | 5.00 |" in table
    # an Optuna sweep re-draws identical trials: a repeat is shown once and named, not taken
    # for a third varying setting
    _fake_job(sweep, "7", ["transform.fmin=20", "transform.bins=96", "transform.slice_len=4096"], 1)
    table = collect.pivot(str(sweep), "transform.bins", "transform.slice_len")
    assert "| 96 | 1.00 | 0.00 | 5.00 |" in table and "shown once: transform.slice_len=4096 transform.bins=96 (7) (= " in table
    _fake_job(sweep, "6", ["transform.slice_len=4096", "transform.bins=96", "transform.fmin=40"], 9)
    with pytest.raises(ValueError, match="also varies transform.fmin"):
        collect.pivot(str(sweep), "transform.bins", "transform.slice_len")


def test_saved_excerpt_estimates_score_the_same_from_the_folder(embedded_root, tmp_path, caplog):
    """``save_estimates`` with ``seconds`` writes the centred excerpt; scoring that folder used to
    compare it with the track from sample 0 (SDR -2 instead of +11 dB)."""
    summary = evaluate_separator(Oracle(STFT(2048, 512), "irm1"), embedded_root, str(tmp_path / "run"), seconds=2.0,
                                 save_estimates=True, name="irm1")
    estimates = tmp_path / "run" / "estimates"
    sidecar = next(estimates.glob("test/*/excerpt.json"))
    assert json.loads(sidecar.read_text())["frames"] == 88200
    res = evaluate_estimates(embedded_root, str(estimates), str(tmp_path / "a"))
    for t, m in summary["sigsep"].items():
        assert res["sigsep"][t]["SDR"] == pytest.approx(m["SDR"], abs=1e-3)
    cli = eval_main(["--root", embedded_root, "--estimates", str(estimates), "--out", str(tmp_path / "all"), "--subset", "all"])
    assert cli["sigsep"] == res["sigsep"]  # --subset all is accepted, as evaluate.py's subset=all
    sidecar.unlink()  # without the record: scored from the track's start, with a warning
    with caplog.at_level("WARNING"):
        evaluate_estimates(embedded_root, str(estimates), str(tmp_path / "b"))
    assert "another length than the reference" in caplog.text
    sidecar.write_text(json.dumps({"start": 0, "frames": 88200, "track_frames": 12}))
    with pytest.raises(ValueError, match="another version of the track"):
        evaluate_estimates(embedded_root, str(estimates), str(tmp_path / "c"))


@pytest.mark.parametrize("args,needle", [
    (["separator=nmf", "transform=stft"], "transform=stft has no effect on this job: it builds its own (separator.transform)"),
    (["separator=demix", "separator.ckpt=x.ckpt", "transform.bins=10"], "a checkpoint brings the transform"),
    (["separator=mixture", "transform=stft"], "it uses no transform"),
    (["search=slicqt_slice"], "search=slicqt_slice is a sweep: run it with -m"),  # ran one default job, exit 0
    (["separator=demix", "data.root=never"], "separator.ckpt is required"),  # rendered the data first
])
def test_options_the_job_would_ignore_are_refused(embedded_root, tmp_path, args, needle):
    cmd = [sys.executable, os.path.join(ROOT, "evaluate.py"), f"data.root={embedded_root}", *args,
           f"hydra.run.dir={tmp_path}"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and needle in proc.stderr, proc.stderr[-2000:]
    assert not os.path.exists(os.path.join(ROOT, "never"))


@pytest.mark.parametrize("kwargs,needle", [
    (dict(overwrite="no"), "overwrite must be true or false, got 'no'"),  # truthy: replaced another run's scores
    (dict(save_estimates="maybe"), "save_estimates must be true or false"),
    (dict(seconds="abc"), "seconds must be a number > 0"),  # was a TypeError from a comparison
    (dict(max_tracks=1.5), "max_tracks must be an integer >= 1"),
])
def test_evaluation_options_are_checked_before_any_work(embedded_root, tmp_path, kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        evaluate_separator(MixtureAsEstimate(), embedded_root, str(tmp_path / "out"), **kwargs)
    assert not (tmp_path / "out").exists()


def test_save_estimates_on_a_rerun_writes_them(embedded_root, tmp_path):
    """A rerun with save_estimates=true reused the scores and wrote no estimates."""
    out = str(tmp_path / "run")
    first = evaluate_separator(Oracle(STFT(2048, 512), "irm1"), embedded_root, out, seconds=2.0, name="irm1")
    assert not os.path.exists(os.path.join(out, "estimates"))
    again = evaluate_separator(Oracle(STFT(2048, 512), "irm1"), embedded_root, out, seconds=2.0, name="irm1", save_estimates=True)
    wavs = sorted(p.name for p in (tmp_path / "run" / "estimates").glob("test/*/*.wav"))
    assert wavs == ["bass.wav", "drums.wav", "other.wav", "vocals.wav"]
    assert again["sigsep"] == first["sigsep"]
    stamp = os.stat(next((tmp_path / "run" / "estimates").glob("test/*/drums.wav"))).st_mtime_ns
    evaluate_separator(Oracle(STFT(2048, 512), "irm1"), embedded_root, out, seconds=2.0, name="irm1", save_estimates=True)
    assert os.stat(next((tmp_path / "run" / "estimates").glob("test/*/drums.wav"))).st_mtime_ns == stamp  # reused now


def test_collector_ranks_nan_jobs_last_and_keeps_the_job_order(tmp_path):
    """A job whose median was NaN broke the sort (best_overall was not the best); job folders
    10, 11 came before 2, which shuffled the pivot's rows."""
    sweep = tmp_path / "sweep"
    sdrs = [5.0, math.nan, 9.0, 1.0, 7.0, 3.0] + [2.0] * 6
    for i, sdr in enumerate(sdrs):
        _fake_job(sweep, str(i), [f"transform=t{i % 6}", f"separator.method=m{i // 6}"], sdr)
    res = collect.collect(str(sweep), plot=False)
    meds = [r["median_over_targets"] for r in res["ranking"]]
    assert meds[0] == 9.0 and math.isnan(meds[-1]) and meds[:-1] == sorted(meds[:-1], reverse=True)
    assert res["best_overall"] == "transform=t2 separator.method=m0"
    assert res["best_per_target"]["bass"]["SDR"] == 9.0
    table = collect.pivot(str(sweep), "transform", "separator.method")
    rows = [line.split(" | ")[0].lstrip("| ") for line in table.splitlines() if line.startswith("| t") and "transform" not in line]
    assert rows[:6] == ["t0", "t1", "t2", "t3", "t4", "t5"]
