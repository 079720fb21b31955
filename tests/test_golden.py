"""The built-in scenarios give exactly the recorded results (tests/golden.py).

A refactor must leave every digest as it is; a change meant to move results
records them anew (`python tests/golden.py --write`) and says why.
"""

import json

import golden
import pytest

RECORDED = json.loads(golden.FILE.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(RECORDED))
def test_builtin_results_are_unchanged(name):
    assert golden.digest(name) == RECORDED[name]


def test_every_builtin_has_a_digest():
    from sim.loader import builtin_names

    assert sorted(RECORDED) == builtin_names()
