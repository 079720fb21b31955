"""Social networks as compressed sparse rows, built and used without Python loops.

Every person of the market (customers and potential customers) is a node. A
Watts–Strogatz small world is a ring lattice whose ties are rewired to random
people with probability `rewire`; `complete` is handled in closed form (every
node's neighbourhood is the whole population), and `none` has no ties.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np


@dataclass(frozen=True)
class SocialNetwork:
    """Undirected ties in CSR form: the neighbours of node i are `indices[indptr[i]:indptr[i+1]]`.

    Attributes:
        kind: "small_world", "complete" or "none".
        n: Number of nodes.
        indptr: Row pointers (int64, length n + 1); empty for "complete" and "none".
        indices: Neighbour ids (int32).
        degree: Ties per node (float32, at least 1 to avoid division by zero).
    """

    kind: str
    n: int
    indptr: np.ndarray
    indices: np.ndarray
    degree: np.ndarray

    def neighbour_mean(self, values: np.ndarray) -> np.ndarray:
        """Mean of `values` over each node's neighbours (0 where a node has none).

        Args:
            values: One value per node (float).

        Returns:
            Float32 array of length n.
        """
        if self.kind == "none":
            return np.zeros(self.n, dtype=np.float32)
        if self.kind == "complete":
            total = float(values.sum(dtype=np.float64))
            return ((total - values) / max(self.n - 1, 1)).astype(np.float32)
        return (self.matrix @ values.astype(np.float32, copy=False)).astype(np.float32, copy=False)

    @cached_property
    def matrix(self):
        """Row-normalised adjacency as a scipy CSR matrix (mean over neighbours = one matvec)."""
        from scipy.sparse import csr_array

        weights = np.repeat(1.0 / self.degree, np.diff(self.indptr)).astype(np.float32)
        return csr_array((weights, self.indices, self.indptr), shape=(self.n, self.n))


def build_network(kind: str, n: int, degree: int, rewire: float,
                  rng: np.random.Generator) -> SocialNetwork:
    """Build a social network over `n` nodes.

    Args:
        kind: "small_world", "complete" or "none".
        n: Number of nodes.
        degree: Even number of ties per node in the ring lattice.
        rewire: Probability that a tie's far end is moved to a random node.
        rng: Generator for the rewiring.

    Returns:
        The network.
    """
    empty = np.zeros(0, dtype=np.int32)
    if kind != "small_world" or n < 3:
        deg = np.full(n, max(n - 1, 1) if kind == "complete" else 1, dtype=np.float32)
        return SocialNetwork(kind if n >= 3 else "none", n, np.zeros(n + 1, np.int64), empty, deg)
    half = min(degree // 2, (n - 1) // 2)
    src = np.repeat(np.arange(n, dtype=np.int64), half)
    dst = (src + np.tile(np.arange(1, half + 1, dtype=np.int64), n)) % n
    moved = rng.random(src.size) < rewire
    dst[moved] = rng.integers(0, n, size=int(moved.sum()))
    keep = dst != src  # a rewired tie that lands on its own node is dropped
    src, dst = src[keep], dst[keep]
    rows = np.concatenate([src, dst]).astype(np.int32)
    cols = np.concatenate([dst, src]).astype(np.int32)
    order = np.argsort(rows, kind="stable")
    rows, cols = rows[order], cols[order]
    counts = np.bincount(rows, minlength=n)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    deg = np.maximum(counts, 1).astype(np.float32)
    return SocialNetwork("small_world", n, indptr, cols, deg)
