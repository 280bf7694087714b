"""Install sliceq22 and what it needs into the running interpreter's environment.

Called by ``make run`` / ``make test``. Steps, each skipped when already satisfied (pip itself
is checked first: a venv made without it gets ensurepip or a message):

1. torch: kept if one >= 2.11 is importable (a CUDA build on a cluster stays as it is);
   otherwise ``--torch`` (default ``torch==2.13.0``) is installed *first*, so that no
   unpinned dependency pulls several GB of CUDA wheels.
2. ffmpeg/ffprobe (``--dev`` only): ``museval`` imports ``musdb`` -> ``stempeg``, which refuses
   to import without them. Installed with apt-get when running as root on Debian/Ubuntu (a
   failing apt-get is a warning); otherwise the script says how to install them.
3. sliceq22 itself, editable, with the ``dev`` extra for tests; redone only when
   ``pyproject.toml`` changed since the last install into this environment.
4. ``tinysoundfont`` (renders the embedded dataset) with ``--no-deps``: it declares ``pyaudio``,
   which is for live playback only and does not build without PortAudio headers.
5. For tests: the reference sliCQT ``nsgt==0.19``, which only builds with
   ``--no-build-isolation`` (its setup imports numpy and Cython).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def pip(*args: str) -> None:
    cmd = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "-q", *args]
    print("+", " ".join(cmd), flush=True)
    subprocess.check_call(cmd)


def have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def torch_ok() -> bool:
    if not have("torch"):
        return False
    out = subprocess.run(
        [sys.executable, "-c", "import torch; print(torch.__version__)"], capture_output=True, text=True
    )
    if out.returncode:
        return False
    major, minor = (int(p) for p in out.stdout.strip().split("+")[0].split(".")[:2])
    return (major, minor) >= (2, 11)


def ensure_pip() -> None:
    """A venv made without pip (Debian/Ubuntu without python3-venv) gets it from ensurepip, or a
    message saying what to install (pip's own traceback said nothing useful)."""
    if have("pip"):
        return
    print("+ python -m ensurepip", flush=True)
    if subprocess.run([sys.executable, "-m", "ensurepip", "--upgrade"]).returncode or not have("pip"):
        sys.exit(f"error: {sys.executable} has no pip and ensurepip could not install it. On Debian/Ubuntu: "
                 f"apt-get install python3-venv python3-pip, then delete the environment ({sys.prefix}) and rerun make")


def ensure_ffmpeg() -> None:
    if shutil.which("ffmpeg") and shutil.which("ffprobe"):
        return
    if shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0:
        print("+ apt-get install ffmpeg (needed by musdb/museval)", flush=True)
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        try:
            subprocess.check_call(["apt-get", "update", "-qq"], env=env)
            subprocess.check_call(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "ffmpeg"], env=env)
            return
        except (subprocess.CalledProcessError, OSError) as exc:  # offline, a broken mirror: go on without
            print(f"warning: apt-get failed ({exc}).", file=sys.stderr)
    print(
        "warning: ffmpeg/ffprobe not found; musdb and museval will not import without them.\n"
        "  Debian/Ubuntu: sudo apt-get install ffmpeg   macOS: brew install ffmpeg   conda: conda install ffmpeg",
        file=sys.stderr,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--torch", default="torch==2.13.0", help="requirement used when no torch >= 2.11 is installed")
    parser.add_argument("--dev", action="store_true", help="also install test and reference dependencies")
    args = parser.parse_args()

    ensure_pip()
    if not torch_ok():
        pip(args.torch)
    if args.dev:  # only the tests import museval/musdb (stempeg needs ffmpeg); sliceq22 itself does not
        ensure_ffmpeg()
    # the editable install is redone only when pyproject.toml changed (a rerun works offline)
    stamp = os.path.join(sys.prefix, f".sliceq22-installed{'-dev' if args.dev else ''}")
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as fh:
        wanted = f"{ROOT}\n{hashlib.sha256(fh.read()).hexdigest()}\n"
    current = open(stamp).read() if os.path.isfile(stamp) else None
    if current != wanted or not have("sliceq22"):
        pip("-e", f"{ROOT}[dev]" if args.dev else ROOT)
        try:
            with open(stamp, "w") as fh:
                fh.write(wanted)
        except OSError:  # a read-only system prefix (VENV=): install again next time
            pass
    if not have("tinysoundfont"):
        pip("--no-deps", "tinysoundfont>=0.3")
    if args.dev and not have("nsgt"):
        pip("numpy", "setuptools", "wheel", "cython")
        pip("--no-build-isolation", "nsgt==0.19")


if __name__ == "__main__":
    main()
