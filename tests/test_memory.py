"""Column placement (sim.memory): where arrays start in a page, never what they hold."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from sim import memory
from sim.crm import build_view
from sim.loader import load_scenario
from sim.model import RetentionModel


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int8, np.int16, np.int32, np.bool_])
@pytest.mark.parametrize("slot", [0, 1, 17, 63, 64, 130])
def test_an_array_starts_on_its_slot_and_is_an_ordinary_array(dtype, slot):
    a = memory.empty(1000, dtype, slot)
    assert a.ctypes.data % memory.PAGE == (slot % memory.SLOTS) * memory.LINE
    assert a.shape == (1000,) and a.dtype == np.dtype(dtype)
    assert a.flags.c_contiguous and a.flags.writeable and a.flags.aligned
    a[:] = np.arange(1000) % 2
    assert np.array_equal(pickle.loads(pickle.dumps(a)), a)  # pickles as its values


def test_a_layout_gives_each_column_its_own_line_and_keeps_values():
    lay = memory.Layout(first=5)
    x = np.linspace(-3, 3, 999)
    cols = [lay.copy(x, np.float32), lay.zeros(999, np.int16), lay.full(999, np.nan, np.float32),
            lay.empty((3, 7), np.float64)]
    lines = [c.ctypes.data % memory.PAGE // memory.LINE for c in cols]
    assert lines == [5, 6, 7, 8] and lay.next == 9
    assert np.array_equal(cols[0], x.astype(np.float32))
    assert not cols[1].any() and np.isnan(cols[2]).all() and cols[3].shape == (3, 7)
    # Separate buffers: writing one column leaves the others as they were.
    cols[1][:] = 7
    assert np.array_equal(cols[0], x.astype(np.float32)) and np.isnan(cols[2]).all()


def test_the_population_and_its_views_spread_over_distinct_lines():
    sc = load_scenario("default").model_copy(deep=True)
    sc = sc.model_copy(update={"population": sc.population.model_copy(update={"size": 2000})})
    model = RetentionModel(sc, rng=3)
    pop = model.customers
    cols = pop._cols
    lines = [v.ctypes.data % memory.PAGE // memory.LINE for v in cols.values()]
    assert len(cols) > 30 and len(set(lines)) == len(lines)
    view = build_view(pop, 0, 1.0)
    view_lines = {a.ctypes.data % memory.PAGE // memory.LINE
                  for a in (view.known, view.recency, view.frequency, view.survey_nps, view.tenure)}
    assert len(view_lines) == 5 and not view_lines & set(lines)
