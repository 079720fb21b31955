"""Reading scenario files: every problem reported as `file:line: field: message`, exit 2."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sim.cli import app
from sim.loader import ScenarioError, load_scenario, parse_text

ROOT = Path(__file__).resolve().parent.parent
MALFORMED = Path(__file__).resolve().parent / "malformed"
runner = CliRunner()

# file → (line, field, words the message must contain); field "" = the whole file.
CASES = {
    "yaml_syntax.yaml": (4, "", "not valid YAML"),
    "empty.yaml": (None, "", "empty"),
    "unknown_key.yaml": (3, "populaton", "no such key"),
    "wrong_type.yaml": (2, "horizon", "integer"),
    "out_of_range.yaml": (5, "market.margin", "less than or equal to 1"),
    "missing_name.yaml": (1, "name", "required"),
    "missing_policies.yaml": (1, "policies", "required"),
    "bad_baseline.yaml": (6, "baseline", "data-driven"),
    "event_past_horizon.yaml": (6, "market.events[1].at", "horizon"),
    "unknown_policy_kind.yaml": (5, "policies[1].kind", "gut_feeling"),
    "unknown_bias_kind.yaml": (9, "policies[1].biases[1].kind", "hindsight"),
    "segment_shares.yaml": (3, "population", "add up to 1"),
    "bad_syntax.toml": (3, "", "not valid TOML"),
}


def test_every_malformed_file_has_a_case() -> None:
    files = {p.name for p in MALFORMED.iterdir()} - {"several_problems.yaml"}
    assert files == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_malformed_file_is_reported_with_line_and_field(name: str) -> None:
    line, field, words = CASES[name]
    path = MALFORMED / name
    res = runner.invoke(app, ["validate", str(path)])
    assert res.exit_code == 2
    assert "Traceback" not in res.output
    lines = res.stderr.strip().splitlines()
    assert lines, "no message"
    where = re.escape(str(path)) + (f":{line}" if line else "")
    what = f"{re.escape(field)}: " if field else ""
    pattern = re.compile(f"^{where}: {what}")
    assert any(pattern.match(m) for m in lines), lines
    assert words in res.stderr
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert any(p.line == line and p.field == field for p in info.value.problems)


def test_a_file_with_several_problems_reports_them_all() -> None:
    path = MALFORMED / "several_problems.yaml"
    res = runner.invoke(app, ["validate", str(path)])
    assert res.exit_code == 2
    lines = res.stderr.strip().splitlines()
    fields = {}
    for msg in lines:
        m = re.match(rf"^{re.escape(str(path))}:(\d+): (\S+): ", msg)
        assert m, msg
        fields[m.group(2)] = int(m.group(1))
    assert fields == {
        "name": 1,
        "horizon": 2,
        "population.size": 4,
        "population.colour": 5,
        "market.margin": 7,
        "policies[1].kind": 11,
        "policies[1].biases[0].strength": 13,
        "baseline": 14,
    }


def test_validate_reports_every_file_and_never_a_traceback() -> None:
    files = sorted(str(p.relative_to(ROOT)) for p in MALFORMED.iterdir())
    proc = subprocess.run([sys.executable, "-m", "sim", "validate", "default", *files],
                          capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={k: v for k, v in os.environ.items() if k != "RETENTION_LAB_DEBUG"})
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "default: ok" in proc.stdout
    for f in files:
        assert re.search(f"^{re.escape(f)}(:\\d+)?: ", proc.stderr, re.M), f


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"
    res = runner.invoke(app, ["validate", str(path)])
    assert res.exit_code == 2
    assert res.stderr.startswith(f"{path}: no such file")


def test_unknown_builtin_name() -> None:
    res = runner.invoke(app, ["run", "no-such-builtin"])
    assert res.exit_code == 2
    assert res.stderr.startswith("no-such-builtin: no such file or built-in scenario")
    assert "default" in res.stderr


def test_builtin_and_toml_load(tmp_path: Path) -> None:
    default = load_scenario("default")
    assert default.name == "default"
    toml = tmp_path / "tiny.toml"
    toml.write_text('name = "tiny"\nhorizon = 12\n\n[[policies]]\nname = "a"\n'
                    'kind = "churn_risk"\n', encoding="utf-8")
    yml = tmp_path / "tiny.yaml"
    yml.write_text("name: tiny\nhorizon: 12\npolicies:\n  - {name: a, kind: churn_risk}\n",
                   encoding="utf-8")
    assert load_scenario(toml) == load_scenario(yml)
    assert load_scenario(toml).horizon == 12


def test_a_bad_entry_in_the_only_policy_is_reported_once_at_its_place():
    text = "name: t\npolicies:\n  - name: a\n    kind: uniform\n    biases: [{kind: hindsight}]\n"
    with pytest.raises(ScenarioError) as info:
        parse_text(text, "one.yaml")
    fields = [p.field for p in info.value.problems]
    assert fields == ["policies[0].biases[0].kind"]


def test_a_built_in_kind_cannot_be_replaced():
    from sim.biases import Affinity, Bias, register_bias

    class Mine(Bias):
        kind = "affinity"

    with pytest.raises(ValueError, match="built-in"):
        register_bias(Mine)
    from sim.registry import BIASES

    assert BIASES["affinity"] is Affinity
