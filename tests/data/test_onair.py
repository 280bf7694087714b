"""The OnAir adapter maps raw stems by name, sums them per target and refuses bad input."""

from __future__ import annotations

import os

import numpy as np
import pytest
import soundfile as sf

from sliceq22.data.musdb import find_tracks, read_stem
from sliceq22.data.onair import classify, convert_song


@pytest.mark.parametrize(
    "name,target",
    [("Kick In.wav", "drums"), ("OH L.wav", "drums"), ("Bass DI.wav", "bass"), ("Lead Vox.wav", "vocals"),
     ("BV 2.wav", "vocals"), ("Gtr Rhythm.wav", "other"), ("Lead Synth.wav", "other"), ("Sub 808.wav", "bass"),
     # names the first table got wrong: instruments before the generic backing/harmony/room
     ("Backing Gtr.wav", "other"), ("Harmony Guitar.wav", "other"), ("Gtr Room.wav", "other"), ("Piano Room Mic.wav", "other"),
     ("Bassoon.wav", "other"), ("BVs.wav", "vocals"), ("Hats.wav", "drums"), ("Bass Drum.wav", "drums"), ("Room L.wav", "drums"),
     ("Backing Vocals.wav", "vocals"), ("Harmony.wav", "vocals"), ("Synth Bass.wav", "bass"), ("Override.wav", None),
     # underscores and digits are word characters to a regex: these matched nothing (then 'other')
     ("Tom1.wav", "drums"), ("Tom_1.wav", "drums"), ("OH_L.wav", "drums"), ("Sn_Top.wav", "drums"), ("HH_01.wav", "drums"),
     ("BV_1.wav", "vocals"), ("Ride_Cym.wav", "drums"), ("Lead_Vox2.wav", "vocals"),
     ("Bass Clarinet.wav", "other"), ("Bass_Trombone.wav", "other")],
)
def test_classify(name, target):
    assert classify(name, unknown="skip") == target


def test_unknown_stems():
    with pytest.raises(ValueError, match="no target"):
        classify("Mystery.wav")
    assert classify("Mystery.wav", unknown="other") == "other"
    assert classify("Mystery.wav", unknown="skip") is None


def _song(tmp_path, stems, sr=44100, n=4410):
    song = tmp_path / "raw" / "Artist - Song"
    song.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name, channels in stems.items():
        sf.write(song / name, 0.1 * rng.standard_normal((n, channels)), sr, subtype="FLOAT")
    return song


def test_convert_song_sums_per_target(tmp_path):
    song = _song(tmp_path, {"Kick.wav": 1, "Snare.wav": 1, "Bass.wav": 1, "Keys.wav": 2, "Vox.wav": 1})
    (song / "._Kick.wav").write_bytes(b"\x00\x05\x16\x07")  # a macOS resource fork: not a stem
    dst = tmp_path / "musdb"
    convert_song(str(song), str(dst))
    (track,) = find_tracks(str(dst), "train")
    drums = read_stem(track, "drums")
    kick, _ = sf.read(song / "Kick.wav", dtype="float32")
    snare, _ = sf.read(song / "Snare.wav", dtype="float32")
    np.testing.assert_allclose(drums[0], kick + snare, atol=1e-6)
    mix = read_stem(track, "mixture")
    np.testing.assert_allclose(mix, sum(read_stem(track, s) for s in ("drums", "bass", "other", "vocals")), atol=1e-6)
    with pytest.raises(ValueError, match="refusing to overwrite"):
        convert_song(str(song), str(dst))


def test_convert_song_refuses_mismatches(tmp_path):
    song = _song(tmp_path, {"Kick.wav": 1, "Vox.wav": 1})
    sf.write(song / "Bass.wav", np.zeros((100, 1)), 44100)
    with pytest.raises(ValueError, match="differ in length"):
        convert_song(str(song), str(tmp_path / "out"))
    os.remove(song / "Bass.wav")
    sf.write(song / "Bass.wav", np.zeros((4410, 1)), 48000)
    with pytest.raises(ValueError, match="different sample rates"):
        convert_song(str(song), str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_cli_checks_every_song_before_writing_any(tmp_path):
    """A bad second song used to stop the run after the first was written, and the retry was
    then refused for the first song's existing folder."""
    from sliceq22.data.onair import main

    good = _song(tmp_path, {"Kick.wav": 1, "Vox.wav": 1})
    bad = tmp_path / "raw" / "B - Other"
    bad.mkdir()
    sf.write(bad / "Rhodes.wav", np.zeros((4410, 1)), 44100)
    (bad / "Junk.wav").write_bytes(b"RIFF....WAVEnot audio")
    dst = tmp_path / "musdb"
    with pytest.raises(SystemExit) as err:
        main([str(tmp_path / "raw"), str(dst)])
    msg = str(err.value)
    assert "nothing was written" in msg and "Junk.wav as audio" in msg and good.is_dir()
    assert not dst.exists()
    (bad / "Junk.wav").unlink()
    main([str(tmp_path / "raw"), str(dst), "--unknown", "other"])  # the retry works
    assert sorted(os.listdir(dst / "train")) == ["Artist - Song", "B - Other"]


def test_a_song_whose_stems_are_all_skipped_is_refused(tmp_path):
    """--unknown skip converted it to an all-silent track."""
    from sliceq22.data.onair import check_song

    song = _song(tmp_path, {"Mystery.wav": 1})
    with pytest.raises(ValueError, match="no stem .* matches a target"):
        check_song(song, str(tmp_path / "dst"), unknown="skip")


def test_cli_names_the_song_of_unknown_stems_and_guards_its_destination(tmp_path):
    from sliceq22.data.onair import main

    song = _song(tmp_path, {"Kick.wav": 1, "Click.wav": 1, "Mystery.wav": 1})
    with pytest.raises(SystemExit) as err:
        main([str(tmp_path / "raw"), str(tmp_path / "musdb")])
    assert f"{song}: no target for raw stem(s) Click.wav, Mystery.wav" in str(err.value)  # every stem, the song named
    (tmp_path / "afile").write_text("the user's")
    with pytest.raises(SystemExit, match="afile is a file"):  # was a NotADirectoryError traceback after the checks
        main([str(tmp_path / "raw"), str(tmp_path / "afile"), "--unknown", "other"])
    assert (tmp_path / "afile").read_text() == "the user's"
    inside = tmp_path / "raw" / "musdb"  # a DST_ROOT inside SRC: not a song on the rerun
    main([str(tmp_path / "raw"), str(inside), "--unknown", "other"])
    with pytest.raises(SystemExit) as err:
        main([str(tmp_path / "raw"), str(inside), "--unknown", "other"])
    assert "exists already" in str(err.value) and "no audio stems" not in str(err.value)
