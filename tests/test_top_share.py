"""Targeting the top share: known answers, ties broken by id, the same on every CPU."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sim.policies import top_mask, top_share
from sim.policies.base import BLOCK

F32 = np.float32
ROOT = Path(__file__).resolve().parents[1]


def reference(score: np.ndarray, mask: np.ndarray, share: float) -> np.ndarray:
    """A plain definition: sort the masked customers by score (missing last), then by id."""
    ids = np.flatnonzero(mask)
    w = np.zeros(mask.size, dtype=F32)
    if ids.size == 0:
        return w
    k = max(1, round(share * ids.size))
    key = np.nan_to_num(np.asarray(score)[ids].astype(np.float64), nan=-np.inf)
    w[ids[np.lexsort((ids, -key))[:k]]] = 1.0
    return w


def test_known_answers() -> None:
    score = np.array([5, 1, 9, np.nan, 7, 9, 3], dtype=F32)
    mask = np.array([1, 1, 1, 1, 1, 0, 1], dtype=bool)
    # Six customers in the mask, a half of them: 9 (id 2), 7 (id 4), 5 (id 0); id 5 is outside.
    np.testing.assert_array_equal(top_share(score, mask, 0.5), [1, 0, 1, 0, 1, 0, 0])
    # All of them, and at least one.
    np.testing.assert_array_equal(top_share(score, mask, 1.0), mask.astype(F32))
    np.testing.assert_array_equal(top_share(score, mask, 0.01), [0, 0, 1, 0, 0, 0, 0])
    assert not top_share(score, np.zeros(7, dtype=bool), 0.5).any()


def test_ties_at_the_cut_go_to_the_lowest_ids() -> None:
    n = 3 * BLOCK + 17  # ties spread over several blocks
    mask = np.ones(n, dtype=bool)
    mask[::3] = False
    equal = np.full(n, 2.0, dtype=F32)
    w = top_share(equal, mask, 0.25)
    k = round(0.25 * mask.sum())
    np.testing.assert_array_equal(np.flatnonzero(w), np.flatnonzero(mask)[:k])
    # Some above the cut, the rest of the places to the first tied ids.
    score = equal.copy()
    score[n - 10:] = 5.0
    w = top_share(score, mask, 0.25)
    chosen = np.flatnonzero(w)
    above = np.flatnonzero(mask & (score == 5.0))
    assert set(above) <= set(chosen) and chosen.size == k
    np.testing.assert_array_equal(np.setdiff1d(chosen, above), np.flatnonzero(mask)[:k - above.size])


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16])
def test_matches_the_plain_definition(dtype) -> None:
    rng = np.random.default_rng(11)
    for trial in range(40):
        n = int(rng.integers(1, 4000)) if trial % 8 else 2 * BLOCK + int(rng.integers(1, 999))
        mask = rng.random(n) < rng.random()
        if np.dtype(dtype).kind == "f":
            score = (rng.integers(0, 6, n) if trial % 2 else rng.normal(size=n)).astype(dtype)
            score[rng.random(n) < 0.2] = np.nan
            score[rng.random(n) < 0.02] = np.inf
            score[rng.random(n) < 0.02] = -np.inf
        else:
            score = rng.integers(-3, 4, n).astype(dtype)
        share = float(rng.random())
        want = reference(score, mask, share)
        np.testing.assert_array_equal(top_share(score, mask, share), want)
        chosen = top_mask(score, mask, share)
        assert chosen.dtype == np.bool_
        np.testing.assert_array_equal(chosen, want > 0)


def test_missing_and_infinite_scores_rank_in_order() -> None:
    score = np.array([np.nan, -np.inf, 0.0, np.inf, np.nan], dtype=F32)
    mask = np.ones(5, dtype=bool)
    order = [top_share(score, mask, k / 5) for k in range(1, 6)]
    before = [np.zeros(5, F32), *order[:-1]]
    firsts = [int(np.flatnonzero(b - a)[0]) for a, b in zip(before, order, strict=True)]
    assert firsts == [3, 2, 1, 0, 4]  # +inf, a number, -inf, then the missing by id


def test_the_same_choice_on_every_cpu() -> None:
    """numpy's partition kernels differ by CPU; the cut's value does not, nor the choice."""
    umath = np._core._multiarray_umath
    # The optimisations numpy dispatches to on this CPU (AVX2, AVX-512, ...), all turned off below.
    found = [f for f in umath.__cpu_dispatch__ if umath.__cpu_features__.get(f)]
    code = (
        "import numpy as np, sys; from sim.policies import top_share\n"
        "rng = np.random.default_rng(5); n = 200_000\n"
        "s = np.round(rng.random(n) * 40).astype(np.float32); m = rng.random(n) < 0.8\n"
        "sys.stdout.write(np.flatnonzero(top_share(s, m, 0.2)).tobytes().hex())\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    here = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    env["NPY_DISABLE_CPU_FEATURES"] = " ".join(found)
    plain = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert here.stdout and here.stdout == plain.stdout
