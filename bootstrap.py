#!/usr/bin/env python3
"""Set up Retention Lab and run it: the README's two commands.

    python3 bootstrap.py demo   # create .venv, install, run the default comparison
    python3 bootstrap.py test   # create .venv, install, run the test suite

Any Python 3 can start this script; it finds a Python >= 3.12 for the virtual
environment itself (PATH first, then pyenv) and installs only from the package
registries. Further arguments after the command are passed on.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".installed"
MIN = (3, 12)


def _version(python: str) -> tuple[int, int] | None:
    try:
        out = subprocess.run(
            [python, "-c", "import sys; print(sys.version_info[0], sys.version_info[1])"],
            capture_output=True, text=True, timeout=30, check=True,
        ).stdout.split()
        return int(out[0]), int(out[1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


def find_python() -> str:
    """Return a Python >= 3.12 interpreter, or exit with advice."""
    candidates = [sys.executable, "python3.13", "python3.12", "python3", "python"]
    for name in candidates:
        path = shutil.which(name) if not os.path.isabs(name) else name
        if path and (v := _version(path)) and v >= MIN:
            return path
    pyenv = shutil.which("pyenv")
    if pyenv:
        versions = subprocess.run([pyenv, "versions", "--bare"], capture_output=True, text=True)
        found = []
        for line in versions.stdout.split():
            parts = line.strip().split(".")
            if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit():
                if (int(parts[0]), int(parts[1])) >= MIN:
                    found.append(line.strip())
        for ver in sorted(found, key=lambda s: [int(p) if p.isdigit() else 0 for p in s.split(".")]):
            root = subprocess.run([pyenv, "root"], capture_output=True, text=True).stdout.strip()
            path = Path(root) / "versions" / ver / "bin" / "python"
            if path.exists() and (v := _version(str(path))) and v >= MIN:
                return str(path)
    sys.exit(
        "bootstrap: Retention Lab needs Python 3.12 or newer and none was found on PATH or in "
        "pyenv.\nInstall one (e.g. `apt-get install python3.12 python3.12-venv` or "
        "`pyenv install 3.12`) and run this command again."
    )


def ensure_venv() -> Path:
    """Create .venv and install the project (once; again when pyproject.toml changes)."""
    py = VENV / "bin" / "python"
    if not py.exists() or (_version(str(py)) or (0, 0)) < MIN:
        if VENV.exists():
            shutil.rmtree(VENV)
        base = find_python()
        print(f"bootstrap: creating .venv with {base}", flush=True)
        subprocess.run([base, "-m", "venv", str(VENV)], check=True)
    want = (ROOT / "pyproject.toml").read_bytes()
    if not STAMP.exists() or STAMP.read_bytes() != want:
        print("bootstrap: installing retention-lab and its dependencies (first run only)", flush=True)
        pip = [str(py), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
        subprocess.run([*pip, "--upgrade", "pip"], check=True)
        subprocess.run([*pip, "-e", f"{ROOT}[all]"], check=True)
        STAMP.write_bytes(want)
    return py


def _has_cjk_font() -> bool:
    """Whether fontconfig knows a font with Chinese glyphs (False when fc-list is missing)."""
    if shutil.which("fc-list") is None:
        return False
    out = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True, check=False).stdout
    return bool(out.strip())


def main(argv: list[str]) -> int:
    """Dispatch the bootstrap command."""
    if not argv or argv[0] not in {"demo", "test", "setup"}:
        print(__doc__)
        return 2
    cmd, rest = argv[0], argv[1:]
    if cmd == "test" and shutil.which("chromium") is None:
        print("bootstrap: the test suite drives Chromium for the workshop's browser tests, and no "
              "`chromium` is on PATH.\nInstall Debian's package first (no browser is downloaded):\n"
              "    sudo apt-get install chromium\nthen run `python3 bootstrap.py test` again.", file=sys.stderr)
        return 2
    if cmd == "test" and not _has_cjk_font():
        print("bootstrap: no Chinese font found (fc-list :lang=zh): the workshop's Chinese pages will show "
              "boxes in the browser tests' screenshots.\nFor real characters: sudo apt-get install "
              "fonts-noto-cjk (the tests run either way).", file=sys.stderr)
    py = ensure_venv()
    env = dict(os.environ, MPLBACKEND="Agg")
    if cmd == "setup":
        return 0
    if cmd == "demo":
        return subprocess.call([str(py), "-m", "sim", "run", "default", *rest], cwd=ROOT, env=env)
    return subprocess.call([str(py), "-m", "pytest", "-n", "2", "--dist", "loadfile", *rest],
                           cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
