"""`python -m sim` and the `retention-lab` command start here.

This module imports nothing heavy: it takes Ctrl-C over before the command
line's imports (typer, pydantic, the model: a second or more), so that Ctrl-C
at the first instant ends with a line and exit code 130, not a traceback from
inside an import. `sim.cli` takes it from there.
"""

from __future__ import annotations

import os
import signal
from types import FrameType


def _stop(signum: int, frame: FrameType | None) -> None:
    """Ctrl-C before the command line is loaded: nothing was written."""
    os.write(2, b"interrupted: nothing was written\n")
    os._exit(130)


def main() -> None:
    """Entry point of `retention-lab` and `python -m sim`."""
    signal.signal(signal.SIGINT, _stop)
    from sim.cli import main as command_line

    command_line()


if __name__ == "__main__":
    main()
