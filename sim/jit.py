"""The compiled path: numba kernels where the measurements justify them, numpy otherwise.

Hot loops over customers (the customer step, the CRM's per-segment means, the
churn model's scores, word of mouth) have two implementations: a numba kernel
compiled once per machine (cached beside the package), and a vectorised numpy
fallback used when numba is not installed or when `RETENTION_LAB_JIT=0`.
Both draw the same random numbers (`sim.streams`) and apply the same
equations; see docs/performance.md for what each path guarantees.

`ENABLED` is read at each call, so tests can switch paths with monkeypatch.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

try:  # pragma: no cover - exercised by whichever path is installed
    import numba as _numba
except ImportError:  # pragma: no cover
    _numba = None

#: Whether the compiled kernels are used (numba importable and not switched off).
ENABLED: bool = _numba is not None and os.environ.get("RETENTION_LAB_JIT", "1") != "0"
#: Whether numba is installed at all.
AVAILABLE: bool = _numba is not None


def njit(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Compile `fn` with numba (no Python objects, cached on disk), or return it unchanged.

    Without numba the function is kept as plain Python; callers use the numpy
    fallback instead of calling it (`if jit.ENABLED: ...`).
    """
    if _numba is None:
        return fn
    return _numba.njit(cache=True, nogil=True, error_model="numpy")(fn)
