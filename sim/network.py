"""Social networks as compressed sparse rows, built and used without Python loops.

Every person of the market (customers and potential customers) is a node. A
Watts–Strogatz small world is a ring lattice whose ties are rewired to random
people with probability `rewire`; people take their places on the ring at
random, so a customer's neighbours are customers and prospects in the
proportions of the market. `complete` is handled in closed form (every node's
neighbourhood is the whole population), and `none` has no ties. `edges` are
ties read from a file (`sim.empirical` reads and checks it; `edge_network`
stores them).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np


@dataclass(frozen=True)
class SocialNetwork:
    """Undirected ties in CSR form: the neighbours of node i are `indices[indptr[i]:indptr[i+1]]`.

    Each row's neighbours are in ascending order (a tie that rewiring made
    twice appears twice), and i is a neighbour of j exactly as often as j of i.

    Attributes:
        kind: "small_world", "complete", "none" or "edges" (ties from a file).
        n: Number of nodes.
        indptr: Row pointers (length n + 1; int32 unless there are 2^31 ties or more);
            all zero for "complete" and "none".
        indices: Neighbour ids (int32).
    """

    kind: str
    n: int
    indptr: np.ndarray
    indices: np.ndarray

    @property
    def degree(self) -> np.ndarray:
        """Ties per node (float32, at least 1 to avoid division by zero)."""
        if self.kind == "complete":
            return np.full(self.n, max(self.n - 1, 1), dtype=np.float32)
        return np.maximum(np.diff(self.indptr), 1).astype(np.float32)

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
    def weights(self) -> np.ndarray:
        """Each node's weight on a neighbour's value: 1 / degree (float32)."""
        return (1.0 / self.degree).astype(np.float32)

    @cached_property
    def matrix(self):
        """Row-normalised adjacency as a scipy CSR matrix (mean over neighbours = one matvec).

        It shares `indptr` and `indices` (both int32 for scipy not to copy them);
        only the weights are new.
        """
        from scipy.sparse import csr_array

        weights = np.repeat(self.weights, np.diff(self.indptr))
        m = csr_array((weights, self.indices, self.indptr), shape=(self.n, self.n), copy=False)
        return m

    @property
    def nbytes(self) -> int:
        """Memory held by the network's arrays, the cached weights and `matrix` included."""
        arrays = [self.indptr, self.indices]
        if "weights" in self.__dict__:
            arrays.append(self.__dict__["weights"])
        if "matrix" in self.__dict__:
            m = self.__dict__["matrix"]
            arrays += [m.data, m.indices, m.indptr]
        held = {}
        for a in arrays:  # scipy holds views of our arrays: count each buffer once
            while isinstance(a.base, np.ndarray):
                a = a.base
            held[id(a)] = a.nbytes
        return sum(held.values())


def build_network(kind: str, n: int, degree: int, rewire: float,
                  rng: np.random.Generator) -> SocialNetwork:
    """Build a social network over `n` nodes.

    Args:
        kind: "small_world", "complete" or "none"; "edges" gives a network without ties, which
            `edge_network` replaces once the file is read (`sim.empirical.apply_inputs`).
        n: Number of nodes.
        degree: Even number of ties per node in the ring lattice.
        rewire: Probability that a tie's far end is moved to a random node.
        rng: Generator for the rewiring.

    Returns:
        The network.
    """
    empty = np.zeros(0, dtype=np.int32)
    if kind == "edges":
        return SocialNetwork("edges", n, np.zeros(n + 1, np.int32), empty)
    if kind != "small_world" or n < 3:
        return SocialNetwork(kind if n >= 3 else "none", n, np.zeros(n + 1, np.int32), empty)
    half = min(degree // 2, (n - 1) // 2)
    place = rng.permutation(n).astype(np.int32)  # who sits at each position of the ring
    # Ties as int32 ends (n < 2^31), sorted as one int64 key row * n + column: a quarter of the
    # memory a lexsort of int64 ends takes, which sets the model's peak while it is built.
    src = np.repeat(np.arange(n, dtype=np.int32), half)
    dst = np.tile(np.arange(1, half + 1, dtype=np.int32), n)
    dst += src
    dst %= n
    moved = rng.random(src.size) < rewire
    dst[moved] = rng.integers(0, n, size=int(moved.sum()))
    del moved
    keep = dst != src  # a rewired tie that lands on its own node is dropped
    ends = [place[src[keep]], place[dst[keep]]]  # positions on the ring → the people there
    del src, dst, keep, place
    return _csr("small_world", n, ends)


def edge_network(n: int, src: np.ndarray, dst: np.ndarray) -> SocialNetwork:
    """The network of the given undirected ties (kind "edges"), each listed once.

    Args:
        n: Number of nodes.
        src: One end of each tie (node ids, 0..n-1).
        dst: The other end.

    Returns:
        The network in CSR form, each tie in both its ends' rows.
    """
    return _csr("edges", n, [np.asarray(src, dtype=np.int32), np.asarray(dst, dtype=np.int32)])


def _csr(kind: str, n: int, ends: list[np.ndarray]) -> SocialNetwork:
    """Ties in CSR form, in both directions, each row's neighbours ascending.

    `ends` holds the two int32 arrays of the ties' ends, each tie once; it is emptied, so
    that they are freed as soon as the sort keys are made.
    """
    src, dst = ends
    ends.clear()
    m = src.size
    key = np.empty(2 * m, dtype=np.int64)
    np.multiply(src, np.int64(n), out=key[:m])
    key[:m] += dst
    np.multiply(dst, np.int64(n), out=key[m:])
    key[m:] += src
    del src, dst
    # Each row's neighbours in ascending order: a node's mean over its ties is then summed in
    # the order a push from the speakers in ascending order adds (sim.agents.kernels.word_of_mouth).
    key.sort()
    starts = np.searchsorted(key, np.arange(n + 1, dtype=np.int64) * n)
    indptr = starts.astype(np.int32 if key.size < 2**31 else np.int64)
    del starts
    np.remainder(key, n, out=key)
    cols = key.astype(np.int32)
    return SocialNetwork(kind, n, indptr, cols)
