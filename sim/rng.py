"""Seeds and generators: one helper turns any seed into a `numpy.random.Generator`.

There is no global random state anywhere in Retention Lab. A model receives one
generator and spawns independent child streams from it, one per mechanism, so
that every policy compared in a replication consumes identical random numbers
for the customers and the market (common random numbers).
"""

from __future__ import annotations

import numpy as np

SeedLike = int | np.integer | np.random.SeedSequence | np.random.Generator | None


def make_rng(seed: SeedLike) -> np.random.Generator:
    """Return a generator for an int, a `SeedSequence` or a `Generator` (returned as is).

    Args:
        seed: The seed. `None` draws fresh entropy from the operating system.

    Returns:
        A `numpy.random.Generator`.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, np.random.SeedSequence):
        return np.random.Generator(np.random.PCG64(seed))
    return np.random.default_rng(seed)


def replication_seeds(root: int, n: int) -> list[int]:
    """Derive `n` replication seeds from a root seed.

    The seeds are 64-bit integers taken from `SeedSequence(root).spawn(n)`, so
    they can be written into results and typed back in to reproduce one
    replication alone.

    Args:
        root: The scenario's root seed.
        n: How many replications.

    Returns:
        A list of `n` integers.
    """
    children = np.random.SeedSequence(root).spawn(n)
    return [int(c.generate_state(2, dtype=np.uint32).view(np.uint64)[0]) for c in children]


STREAMS = ("init", "network", "customers", "surveys", "acquisition", "manager")


def spawn_streams(rng: np.random.Generator) -> dict[str, np.random.Generator]:
    """Spawn one independent child generator per mechanism, in a fixed order.

    Args:
        rng: The model's generator.

    Returns:
        A mapping from stream name (see `STREAMS`) to a generator.
    """
    children = rng.spawn(len(STREAMS))
    return dict(zip(STREAMS, children, strict=True))
