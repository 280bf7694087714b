"""Install sliceq22 and what it needs into the running interpreter's environment.

Called by ``make run`` / ``make test``. Steps, each skipped when already satisfied:

1. torch: kept if one >= 2.11 is importable (a CUDA build on a cluster stays as it is);
   otherwise ``--torch`` (default ``torch==2.13.0``) is installed *first*, so that no
   unpinned dependency pulls several GB of CUDA wheels.
2. ffmpeg/ffprobe: ``museval`` imports ``musdb`` -> ``stempeg``, which refuses to import
   without them. Installed with apt-get when running as root on Debian/Ubuntu; otherwise
   the script says how to install them.
3. sliceq22 itself, editable, with the ``dev`` extra for tests.
4. ``tinysoundfont`` (renders the embedded dataset) with ``--no-deps``: it declares ``pyaudio``,
   which is for live playback only and does not build without PortAudio headers.
5. For tests: the reference sliCQT ``nsgt==0.19``, which only builds with
   ``--no-build-isolation`` (its setup imports numpy and Cython).
"""

from __future__ import annotations

import argparse
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


def ensure_ffmpeg() -> None:
    if shutil.which("ffmpeg") and shutil.which("ffprobe"):
        return
    if shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0:
        print("+ apt-get install ffmpeg (needed by musdb/museval)", flush=True)
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.check_call(["apt-get", "update", "-qq"], env=env)
        subprocess.check_call(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "ffmpeg"], env=env)
        return
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

    if not torch_ok():
        pip(args.torch)
    ensure_ffmpeg()
    pip("-e", f"{ROOT}[dev]" if args.dev else ROOT)
    if not have("tinysoundfont"):
        pip("--no-deps", "tinysoundfont>=0.3")
    if args.dev and not have("nsgt"):
        pip("numpy", "setuptools", "wheel", "cython")
        pip("--no-build-isolation", "nsgt==0.19")


if __name__ == "__main__":
    main()
