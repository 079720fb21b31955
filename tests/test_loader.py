"""Reading scenario files: every problem reported as `file:line: field: message`, exit 2."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from sim.cli import app
from sim.loader import MAX_VALUES, ScenarioError, load_scenario, parse_text
from sim.output import default_out_dir, folder_name
from sim.scenario import MAX_POLICIES, Behaviour, Market, PolicySpec, Population, Scenario, Segment

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
    # strict files (issue 19)
    "duplicate_key.yaml": (6, "policies[0].kind", "duplicate key: given on line 5 and again on line 6"),
    "duplicate_key.toml": (7, "", "duplicate key"),
    "boolean_for_number.yaml": (2, "horizon", "expected an integer, found True"),
    "boolean_for_number.toml": (14, "policies[1].biases[0].strength", "expected a number, found True"),
    "text_for_number.yaml": (4, "population.size", "expected an integer, found '4000'"),
    "unknown_option.yaml": (7, "policies[0].options.retarget_evry", "unknown option"),
    "unknown_option.toml": (10, "policies[0].options.retarget_evry", "unknown option"),
    "option_out_of_range.yaml": (8, "policies[0].options.retarget_every", "greater than or equal to 1"),
    "too_many_policies.yaml": (3, "policies", f"at most {MAX_POLICIES} policies, found 65"),
    "alias_bomb.yaml": (11, "policies[0].options.e", "alias"),
    "recursive_alias.yaml": (3, "", "recursive"),
    "no_policies.yaml": (3, "policies", "expected at least 1 item, found none"),
    "policies_not_a_list.yaml": (3, "policies", "expected a list, found 'churn_risk'"),
}
#: Pydantic's and the parsers' own words, which a scenario's author should never see.
LIBRARY_WORDS = ("Unable to extract tag", "discriminator", "Tuple should", "after validation",
                 "valid tuple", "Input should", "Cannot overwrite", "at line", "unicode string")


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
    for words in LIBRARY_WORDS:
        assert words not in proc.stderr, words


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


# --------------------------------------------------------------------------- strict files (issue 19)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The command line in a process of its own; `timeout` makes a hang fail the test, not stall it."""
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=120, env={k: v for k, v in os.environ.items() if k != "RETENTION_LAB_DEBUG"})


@pytest.mark.parametrize("command", ["validate", "run"])
def test_an_alias_bomb_is_refused_before_it_is_expanded(command: str) -> None:
    path = str((MALFORMED / "alias_bomb.yaml").relative_to(ROOT))
    proc = _cli(command, path)  # expanded, it would be a thousand million strings
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"{path}:11: policies[0].options.e: expands to more than {MAX_VALUES:,}")


@pytest.mark.parametrize("command", ["validate", "run"])
def test_a_key_given_twice_is_refused_by_the_command_line(command: str) -> None:
    path = str((MALFORMED / "duplicate_key.yaml").relative_to(ROOT))
    proc = _cli(command, path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (f"{path}:6: policies[0].kind: duplicate key: given on line 5 and "
                                   "again on line 6; give each key once")


def test_thousands_of_policies_are_refused_at_once(tmp_path: Path) -> None:
    path = tmp_path / "many.yaml"
    arms = "".join(f"  - {{name: p{i}, kind: uniform}}\n" for i in range(60_002))
    path.write_text(f"name: many\nhorizon: 4\npolicies:\n{arms}", encoding="utf-8")
    proc = _cli("run", str(path))
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"{path}:3: policies: expected at most {MAX_POLICIES} policies, found 60,002"
    arms = [{"name": f"p{i}", "kind": "uniform"} for i in range(MAX_POLICIES)]
    assert len(Scenario(name="full", policies=arms).policies) == MAX_POLICIES


def test_duplicate_keys_are_found_anywhere_but_merge_keys_may_be_overridden() -> None:
    text = ("name: t\nmarket:\n  margin: 0.4\n  budget: 2\n  margin: 0.5\n"
            "policies:\n  - {name: a, kind: uniform}\n")
    with pytest.raises(ScenarioError) as info:
        parse_text(text, "m.yaml")
    assert [str(p) for p in info.value.problems] == [
        "m.yaml:5: market.margin: duplicate key: given on line 3 and again on line 5; give each key once"]
    merged = ("name: t\npolicies:\n  - &a {name: a, kind: churn_risk, target_share: 0.2}\n"
              "  - {<<: *a, name: b}\n")
    sc = parse_text(merged, "m.yaml")
    assert [p.name for p in sc.policies] == ["a", "b"]
    assert sc.policies[1].target_share == 0.2


def test_a_small_use_of_aliases_is_fine() -> None:
    text = ("name: t\npopulation:\n  segments:\n    - &seg {name: x, share: 0.5, spend: 20}\n"
            "    - {<<: *seg, name: y}\npolicies:\n  - &arm {name: a, kind: uniform}\n")
    assert [s.name for s in parse_text(text, "a.yaml").population.segments] == ["x", "y"]


NUMBER_MODELS = [Scenario, Population, Segment, Behaviour, Market, PolicySpec]


def _number_fields() -> list[tuple[type, str, str]]:
    from sim.scenario import _number_kind

    return [(model, name, kind) for model in NUMBER_MODELS for name, f in model.model_fields.items()
            if (kind := _number_kind(f.annotation)) is not None]


def test_every_number_field_refuses_booleans_and_text() -> None:
    fields = _number_fields()
    assert len(fields) > 60  # the check below covers the schema, not a handful of fields
    for model, name, kind in fields:
        for bad in (True, False, "1", "0.5"):
            with pytest.raises(ValidationError) as info:
                model.model_validate({name: bad})
            errors = [e for e in info.value.errors() if e["loc"] == (name,)]
            assert errors and errors[0]["type"] == "number_type", (model.__name__, name, bad)
            assert errors[0]["msg"].startswith(f"expected {kind}, found {bad!r}")


def test_numbers_lists_and_nulls_are_still_accepted() -> None:
    text = ("name: t\nhorizon: 20\npopulation:\n  size: 4000\n  segments:\n"
            "    - {name: x, share: 1, spend: 20, satisfaction: null, purchase_shape: 3}\n"
            "market:\n  budget: 2\n  margin: 0.4\npolicies:\n  - name: a\n    kind: churn_risk\n"
            "    biases: [{kind: stale_data, strength: 1}]\n    options: {retarget_every: 4}\n")
    sc = parse_text(text, "ok.yaml")
    assert sc.population.size == 4000 and sc.market.budget == 2.0
    assert isinstance(sc.population.segments, tuple) and sc.population.segments[0].satisfaction is None
    assert sc.policies[0].biases[0].strength == 1
    assert sc.policies[0].settings().retarget_every == 4


def test_options_are_checked_against_the_kind() -> None:
    text = ("name: t\npolicies:\n  - name: a\n    kind: clv\n    options:\n"
            "      discount: -1\n      horizon: true\n      window: 4\n      sampel: 10\n")
    with pytest.raises(ScenarioError) as info:
        parse_text(text, "o.yaml")
    got = {(p.line, p.field): p.message for p in info.value.problems}
    assert got[(6, "policies[0].options.discount")].startswith("expected greater than or equal to 0")
    assert got[(7, "policies[0].options.horizon")].startswith("expected a number, found True")
    assert got[(9, "policies[0].options.sampel")].startswith("unknown option for policy kind clv")
    assert "discount" in got[(9, "policies[0].options.sampel")]
    assert len(got) == 3


def test_toml_problems_carry_their_line() -> None:
    text = ('name = "t"\nhorizon = true\n\n[population]\nsize = "4000"\n\n[[policies]]\n'
            'name = "a"\nkind = "churn_risk"\n\n[policies.options]\nretarget_every = -4\n\n'
            '[[policies]]\nname = "b"\nkind = "uniform"\nbiases = [{kind = "hindsight"}]\n'
            '[market]\nmargin = 3\n')
    with pytest.raises(ScenarioError) as info:
        parse_text(text, "t.toml", "toml")
    assert [(p.line, p.field) for p in info.value.problems] == [
        (2, "horizon"), (5, "population.size"), (12, "policies[0].options.retarget_every"),
        (17, "policies[1].biases[0].kind"), (19, "market.margin")]


@pytest.mark.parametrize("name", ["顾客-测试", "Kundenbindung-Ü", "ретенция_2026", "a.b-c_d"])
def test_names_may_be_written_in_any_script(name: str) -> None:
    sc = parse_text(f"name: {name}\npolicies:\n  - {{name: a, kind: uniform}}\n", "n.yaml")
    assert sc.name == name
    folder = folder_name(name)
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", folder), folder


def test_the_results_folder_name_is_ascii_and_keeps_names_apart(tmp_path: Path) -> None:
    assert folder_name("Kundenbindung-Ü") == "Kundenbindung-U"
    assert folder_name("default") == "default"
    assert folder_name("顾客-测试").startswith("scenario-")
    assert folder_name("顾客-测试") != folder_name("顾客-测验")
    sc = parse_text("name: 顾客-测试\npolicies:\n  - {name: a, kind: uniform}\n", "n.yaml")
    assert default_out_dir(sc, tmp_path).name.startswith(folder_name("顾客-测试") + "-")


@pytest.mark.parametrize("name", ["two words", "tab\there", "line\u2028break", "bell\x07"])
def test_names_without_spaces_or_control_characters(name: str) -> None:
    with pytest.raises(ScenarioError) as info:
        parse_text(f"name: {name!r}\npolicies:\n  - {{name: a, kind: uniform}}\n".replace("'", '"'),
                   "n.yaml")
    assert [p.field for p in info.value.problems] == ["name"]
    assert "printable characters without spaces" in info.value.problems[0].message


def test_a_scenario_named_in_chinese_runs(tmp_path: Path) -> None:
    path = tmp_path / "chinese.yaml"
    path.write_text("name: 顾客-测试\nhorizon: 4\nreplications: 2\npopulation: {size: 200}\n"
                    "policies:\n  - {name: a, kind: uniform}\n", encoding="utf-8")
    out = tmp_path / "results"
    res = runner.invoke(app, ["run", str(path), "--out", str(out), "--workers", "1"])
    assert res.exit_code == 0, res.output
    assert (out / "summary.csv").exists()
    assert "顾客-测试" in (out / "scenario.resolved.yaml").read_text(encoding="utf-8")
