"""Writing files atomically, and the text of a resolved scenario: the bottom layer of the outputs.

Every file is written to a temporary file in its folder, then renamed over its
final name, so an interruption never leaves a half-written file. The replication
store (`sim.store`) and the run's outputs (`sim.output`, `sim.sweep`) both write
through here, and the store's hash is that of `resolved_yaml`, so this module
imports nothing of the package but its version (lazily).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import yaml

if TYPE_CHECKING:
    from sim.scenario import Scenario

#: The resolved scenario, written last into a run's folder (`sim.output`).
RESOLVED = "scenario.resolved.yaml"


def _mode() -> int:
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_open(path: Path | str) -> Iterator[BinaryIO]:
    """Open `path` for writing in binary, atomically: a temporary file renamed on success.

    Used to write a large file piece by piece (e.g. `timeseries.csv`, streamed from
    the replication files) without holding it in memory. If the block raises
    (Ctrl-C included), the temporary file is removed and `path` is untouched.

    Args:
        path: The destination; its folder is created if needed.

    Yields:
        The open temporary file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _mode())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write(path: Path | str, data: bytes | str) -> Path:
    """Write `data` to `path` atomically (temporary file in the same folder, then rename).

    Args:
        path: The destination; its folder is created if needed.
        data: Bytes, or text written as UTF-8.

    Returns:
        The path written.
    """
    path = Path(path)
    with atomic_open(path) as f:
        f.write(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def resolved_yaml(scenario: Scenario, seeds: list[int], version: str | None = None) -> str:
    """The scenario with every default filled in, its seeds and the version as comments.

    The YAML part is `scenario.model_dump(mode="json")`, so `load_scenario`
    reads it back to an equal scenario; the replication seeds and the version
    are comments because unknown keys are errors. Rerunning the file reproduces
    the run bit for bit.

    Args:
        scenario: The scenario as run (replications and root seed filled in).
        seeds: The replication seeds.
        version: The package version (default `sim.__version__`).

    Returns:
        The file's text.
    """
    if version is None:
        from sim import __version__ as version
    head = [
        "# Retention Lab scenario, resolved: every default filled in.",
        f"# retention-lab version: {version}",
        f"# root seed: {scenario.seed}",
        f"# replication seeds (numpy SeedSequence({scenario.seed}).spawn({len(seeds)})):",
        *(f"#   {i}: {s}" for i, s in enumerate(seeds)),
        f"# Rerun: retention-lab run {RESOLVED}",
    ]
    if scenario.period != "week":
        head.append(f"# Values are per {scenario.period}: the defaults given per week were converted when the "
                    "scenario was read; read back, nothing is converted again.")
    body = yaml.safe_dump(scenario.model_dump(mode="json"), sort_keys=False,
                          allow_unicode=True, width=100)
    return "\n".join(head) + "\n" + body
