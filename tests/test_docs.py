"""`docs/scenario-reference.md` is generated from the scenario's JSON schema."""

from __future__ import annotations

import re
from pathlib import Path

from sim.docs import scenario_reference
from sim.scenario import Scenario

REFERENCE = Path(__file__).resolve().parent.parent / "docs" / "scenario-reference.md"


def test_committed_reference_is_up_to_date() -> None:
    committed = REFERENCE.read_text(encoding="utf-8") if REFERENCE.exists() else ""
    assert committed == scenario_reference(), (
        "docs/scenario-reference.md is out of date with sim/scenario.py; regenerate it with:\n"
        "    python -m sim.docs > docs/scenario-reference.md")


def test_reference_documents_every_field() -> None:
    text = scenario_reference()
    schema = Scenario.model_json_schema()
    for name, node in [("Scenario", schema), *schema["$defs"].items()]:
        assert re.search(rf"^### {name}\b", text, re.M), name
        for field in node.get("properties", {}):
            assert f"| `{field}` |" in text, (name, field)
    assert "| `horizon` | integer | `104` | ≥ 1, ≤ 32000 |" in text
    assert "**required**" in text
