"""Golden digests of the built-in scenarios' results: proof that a refactor changed nothing.

Each built-in scenario is run through the public API (`sim.run`) with 2
replications and at most `SIZE` customers, and every number it produces — the
per-replication summaries, every metric of every period of every arm, and the
per-segment table — is hashed (SHA-256 of the float64 bytes). The digests are
kept in `tests/golden/digests.json`; `tests/test_golden.py` recomputes them.

A change that is meant to change results (a model change) writes them anew and
says why in its commit:

    .venv/bin/python tests/golden.py            # compare, print what differs
    .venv/bin/python tests/golden.py --write    # record the current results
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

import sim
from sim.loader import builtin_names, load_scenario

#: Replications per scenario and the largest population run (small: digests prove bit-identity, not effects).
REPLICATIONS = 2
SIZE = 1500
FILE = Path(__file__).with_name("golden") / "digests.json"


def _sha(*arrays: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a, dtype=np.float64).tobytes())
    return h.hexdigest()


def digest(name: str) -> dict[str, str]:
    """The digests of one built-in scenario's results."""
    sc = load_scenario(name)
    pop = sc.population.model_copy(update={"size": min(sc.population.size, SIZE)})
    sc = sc.model_copy(update={"population": pop})
    result = sim.run(sc, replications=REPLICATIONS)
    reps = result.replications.drop(columns=["policy", "seed"]).to_numpy(dtype=np.float64)
    ts = result.timeseries.drop(columns=["policy"]).to_numpy(dtype=np.float64)
    seg = result.segments.drop(columns=["policy", "segment"]).to_numpy(dtype=np.float64)
    return {"summaries": _sha(reps), "timeseries": _sha(ts), "segments": _sha(seg)}


def digests() -> dict[str, dict[str, str]]:
    """The digests of every built-in scenario."""
    return {name: digest(name) for name in builtin_names()}


def main(argv: list[str]) -> int:
    """Compare with the recorded digests, or record them with `--write`."""
    now = digests()
    if "--write" in argv:
        FILE.parent.mkdir(exist_ok=True)
        FILE.write_text(json.dumps(now, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        print(f"wrote {FILE}")
        return 0
    recorded = json.loads(FILE.read_text(encoding="utf-8"))
    differ = [(n, k) for n in sorted(set(now) | set(recorded)) for k in ("summaries", "timeseries", "segments")
              if now.get(n, {}).get(k) != recorded.get(n, {}).get(k)]
    for n, k in differ:
        print(f"{n}: {k} differ")
    print("all digests match" if not differ else f"{len(differ)} digests differ")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
