"""The replication store: the replications of one run on disk, one file each.

With `run(..., store=DIR)`, each replication is written to
`DIR/replications/rep-00007.npz` as soon as it finishes (atomically; it holds
the replication's per-arm summaries, segment tables and time series), and the
`Result` is built by reading them back one at a time (`sim.result.load_result`).
`DIR/replications/scenario.sha256` holds the hash of the resolved scenario and
its seeds (and each replication file repeats it), so `resume=True` reuses
exactly the replications of the same run and refuses a folder that holds
another one.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.files import atomic_write, resolved_yaml
from sim.metrics import METRICS
from sim.scenario import Scenario

#: Sub-folder of a store holding the replication files.
STORE_DIR = "replications"
#: File (in `STORE_DIR`) holding the hash of the resolved scenario and its seeds.
HASH_FILE = "scenario.sha256"


@dataclass
class ReplicationResult:
    """All arms of one replication: what the runner computes, and the store writes and reads back.

    Attributes:
        replication: Index of the replication.
        seed: Its seed.
        summaries: Arm → metric → value.
        timeseries: Arm → array (periods × metrics, in `METRICS` order).
        segments: Arm → per-segment DataFrame.
    """

    replication: int
    seed: int
    summaries: dict[str, dict[str, float]]
    timeseries: dict[str, np.ndarray]
    segments: dict[str, pd.DataFrame]


class StoreMismatchError(ValueError):
    """A store folder holds the replications of another run than the one asked to resume."""


def scenario_hash(scenario: Scenario, seeds: Sequence[int]) -> str:
    """SHA-256 of the resolved scenario, its seeds and the package version.

    Args:
        scenario: The scenario as run (replications and root seed filled in).
        seeds: The replication seeds.

    Returns:
        The hex digest; equal exactly when `scenario.resolved.yaml` would be.
    """
    return hashlib.sha256(resolved_yaml(scenario, list(seeds)).encode("utf-8")).hexdigest()


class ReplicationStore:
    """The replication files of one run: `DIR/replications/rep-XXXXX.npz`.

    Args:
        root: The run's folder (`DIR`).
        scenario: The scenario as run.
        seeds: Its replication seeds.
    """

    def __init__(self, root: Path | str, scenario: Scenario, seeds: Sequence[int]) -> None:
        self.root = Path(root)
        self.dir = self.root / STORE_DIR
        self.scenario = scenario
        self.seeds = list(seeds)
        self.policies = [p.name for p in scenario.policies]
        self.hash = scenario_hash(scenario, self.seeds)

    def path(self, replication: int) -> Path:
        """The file of one replication."""
        return self.dir / f"rep-{replication:05d}.npz"

    def stored_hash(self) -> str | None:
        """The hash recorded in the folder, if any."""
        try:
            return (self.dir / HASH_FILE).read_text(encoding="utf-8").strip() or None
        except OSError:
            return None

    def matches(self) -> bool:
        """Whether the folder holds no store, or one of this very run."""
        return self.stored_hash() in (None, self.hash)

    def holds(self) -> bool:
        """Whether the folder holds a store of this very run (complete or not)."""
        return self.stored_hash() == self.hash

    def _clean_temporary(self) -> None:
        for tmp in self.dir.glob(".*.tmp"):  # left by a killed process mid-write
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    def prepare(self, resume: bool) -> list[int]:
        """Make the folder ready for this run; return the replications already finished.

        Args:
            resume: Keep the finished replications of this same run; otherwise every
                replication file in the folder is removed.

        Returns:
            Indices of the replications whose files are complete and belong to this run.

        Raises:
            StoreMismatchError: If `resume` and the folder holds another run's replications.
        """
        if resume and not self.matches():
            raise StoreMismatchError(
                f"{self.root} holds the replications of a different run (another scenario, "
                "seed, number of replications or version); cannot resume it. Use another "
                "--out folder, or run without --resume to replace them.")
        self.dir.mkdir(parents=True, exist_ok=True)
        self._clean_temporary()
        done = []
        if resume:
            done = [r for r in range(len(self.seeds)) if self.is_done(r)]
        else:
            for old in self.dir.glob("rep-*.npz"):
                old.unlink()
        atomic_write(self.dir / HASH_FILE, self.hash + "\n")
        return done

    def is_done(self, replication: int) -> bool:
        """Whether the replication's file exists, is readable and belongs to this run."""
        try:
            with np.load(self.path(replication), allow_pickle=False) as z:
                return (str(z["hash"]) == self.hash
                        and int(z["replication"]) == replication
                        and int(z["seed"]) == self.seeds[replication])
        except Exception:  # missing, truncated or damaged: computed again
            return False

    def write(self, rr: ReplicationResult) -> Path:
        """Write one replication's results atomically."""
        pols = self.policies
        seg0 = rr.segments[pols[0]]
        buf = io.BytesIO()
        np.savez_compressed(
            buf,
            hash=np.array(self.hash),
            replication=np.int64(rr.replication),
            seed=np.uint64(rr.seed),
            policies=np.array(pols),
            metrics=np.array(list(METRICS)),
            summaries=np.array([[rr.summaries[p][m] for m in METRICS] for p in pols],
                               dtype=np.float64),
            timeseries=np.stack([np.asarray(rr.timeseries[p], dtype=np.float64) for p in pols]),
            segment_names=np.array([str(x) for x in seg0.index]),
            segment_columns=np.array([str(c) for c in seg0.columns]),
            segments=np.stack([rr.segments[p].to_numpy(dtype=np.float64) for p in pols]),
        )
        return atomic_write(self.path(rr.replication), buf.getvalue())

    def _load(self, replication: int) -> dict[str, np.ndarray]:
        with np.load(self.path(replication), allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
        if str(data["hash"]) != self.hash:
            raise StoreMismatchError(f"{self.path(replication)} belongs to another run")
        return data

    def read(self, replication: int) -> ReplicationResult:
        """Read one replication's results back."""
        z = self._load(replication)
        pols = [str(p) for p in z["policies"]]
        mets = [str(m) for m in z["metrics"]]
        index = pd.Index([str(x) for x in z["segment_names"]], name="segment")
        cols = [str(c) for c in z["segment_columns"]]
        return ReplicationResult(
            replication=int(z["replication"]),
            seed=int(z["seed"]),
            summaries={p: dict(zip(mets, map(float, z["summaries"][i]), strict=True))
                       for i, p in enumerate(pols)},
            timeseries={p: z["timeseries"][i] for i, p in enumerate(pols)},
            segments={p: pd.DataFrame(z["segments"][i], index=index, columns=cols)
                      for i, p in enumerate(pols)},
        )

    def series(self, replication: int) -> np.ndarray:
        """One replication's time series only (arms × periods × metrics)."""
        return self._load(replication)["timeseries"]

    def __iter__(self) -> Iterator[ReplicationResult]:
        """Every replication, in replication order, one at a time."""
        for r in range(len(self.seeds)):
            yield self.read(r)
