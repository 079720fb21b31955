"""Column memory laid out for the passes that stream many columns at once.

A pass of the customer step reads and writes some forty columns row by row.
Large arrays come from the operating system page by page, so each starts at
the same offset within a 4 KiB page; at any moment the pass then touches the
same position in forty pages, which all fall in one set of the processor's
L1 cache (64 sets of 64-byte lines on current x86 and ARM cores, 8 to 12 ways
each). The lines evict one another, and loads wait on unrelated stores whose
address looks the same in its low 12 bits ("4K aliasing"). Measured on the
react pass at 10^6 customers: 45 ms with page-aligned columns, 31 ms with
columns starting in different cache lines (benchmarks/, docs/performance.md).

`empty` hands out arrays whose start is placed on a chosen cache line of the
page (`slot`); a `Layout` gives each column of an owner its own slot, the
same slots in every run. Placement changes where the data lives, never a
value: the arrays are ordinary C-contiguous numpy arrays (views into a
slightly larger buffer).
"""

from __future__ import annotations

import numpy as np

#: Bytes per cache line.
LINE = 64
#: Bytes per page (the period of the cache's set index for the L1 cache).
PAGE = 4096
#: Distinct start lines within a page.
SLOTS = PAGE // LINE


def empty(shape: int | tuple[int, ...], dtype: np.dtype | type, slot: int) -> np.ndarray:
    """An uninitialised C-contiguous array whose data start on cache line `slot` (mod SLOTS) of a page.

    Args:
        shape: The array's shape.
        dtype: Its dtype.
        slot: Which line of the page the first element sits on.

    Returns:
        The array (a view into a buffer `PAGE` bytes larger, which it keeps alive).
    """
    dt = np.dtype(dtype)
    count = int(np.prod(shape, dtype=np.int64))
    raw = np.empty(count * dt.itemsize + PAGE, dtype=np.uint8)
    start = (slot % SLOTS) * LINE - raw.ctypes.data % PAGE
    start %= PAGE
    return raw[start:start + count * dt.itemsize].view(dt).reshape(shape)


class Layout:
    """Hands out the slots of one owner's columns in turn, so each column starts on its own line.

    Args:
        first: The first slot handed out.
    """

    def __init__(self, first: int = 0) -> None:
        self.next = first

    def take(self) -> int:
        """The next slot."""
        slot = self.next
        self.next += 1
        return slot

    def empty(self, shape: int | tuple[int, ...], dtype: np.dtype | type) -> np.ndarray:
        """`empty` on the next slot."""
        return empty(shape, dtype, self.take())

    def full(self, shape: int | tuple[int, ...], value: object, dtype: np.dtype | type) -> np.ndarray:
        """An array filled with `value`, on the next slot."""
        out = self.empty(shape, dtype)
        out[...] = value
        return out

    def zeros(self, shape: int | tuple[int, ...], dtype: np.dtype | type) -> np.ndarray:
        """An array of zeros, on the next slot."""
        return self.full(shape, 0, dtype)

    def copy(self, values: np.ndarray, dtype: np.dtype | type | None = None) -> np.ndarray:
        """A copy of `values` (converted to `dtype` as `astype` would), on the next slot."""
        out = self.empty(values.shape, values.dtype if dtype is None else dtype)
        np.copyto(out, values, casting="unsafe")
        return out
