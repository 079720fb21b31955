"""The scenario file reference (`docs/scenario-reference.md`), generated from the JSON schema.

Regenerate the committed file after changing `sim/scenario.py`::

    python -m sim.docs > docs/scenario-reference.md

A test checks that the committed file equals `scenario_reference()`.
"""

from __future__ import annotations

import json
import sys
from collections import deque
from typing import Any

from pydantic import BaseModel

from sim import scenario as scenario_module
from sim.loader import MAX_VALUES
from sim.registry import POLICIES
from sim.scenario import MAX_POLICIES, PERIOD_RULES, PolicyOptions, Scenario, Segment, Spec

#: How the reference states a field's period rule (`sim.scenario.weekly`), after its description.
_RULE_CELL = {"chance": "1 − (1 − x)^w", "amount": "x · w", "periods": "x / w", "sd": "x / √w"}

_GROUPS = {
    "": "The scenario",
    "population": "Population: the customers",
    "market": "Market: the firm, competitors and events",
    "policies": "Policies: the arms compared",
    "sweep": "Sweep: parameter grids",
}


def _refs(node: Any) -> list[str]:
    """Names of the definitions `node` refers to, in order of appearance."""
    out: list[str] = []
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            out.append(ref.rsplit("/", 1)[-1])
        for key, value in node.items():
            if key != "discriminator":
                out.extend(_refs(value))
    elif isinstance(node, list):
        for value in node:
            out.extend(_refs(value))
    return out


def _is_array(prop: dict[str, Any]) -> bool:
    if prop.get("type") == "array":
        return True
    return any(b.get("type") == "array" for b in prop.get("anyOf", []))


def _order(schema: dict[str, Any]) -> list[tuple[str, str]]:
    """Definitions in breadth-first order from the root, each with the path it is first met at."""
    defs = schema.get("$defs", {})
    seen: dict[str, str] = {}
    queue: deque[tuple[str, dict[str, Any], str]] = deque([("Scenario", schema, "")])
    order: list[tuple[str, str]] = []
    while queue:
        name, node, path = queue.popleft()
        order.append((name, path))
        for field, prop in node.get("properties", {}).items():
            sub = f"{path}.{field}" if path else field
            if _is_array(prop):
                sub += "[]"
            for ref in _refs(prop):
                if ref not in seen and ref != "Scenario":
                    seen[ref] = sub
                    queue.append((ref, defs[ref], sub))
    return order


def _link(name: str) -> str:
    return f"[{name}](#{name.lower()})"


def _type(prop: dict[str, Any]) -> str:
    if "$ref" in prop:
        return _link(prop["$ref"].rsplit("/", 1)[-1])
    if "const" in prop:
        return f"`{json.dumps(prop['const'])}`"
    if "enum" in prop:
        return "one of " + ", ".join(f"`{json.dumps(v)}`" for v in prop["enum"])
    if "anyOf" in prop:
        branches = [b for b in prop["anyOf"] if b.get("type") != "null"]
        text = " or ".join(_type(b) for b in branches)
        nullable = len(branches) < len(prop["anyOf"])
        return f"{text} or null" if nullable else text
    if "oneOf" in prop:
        return " or ".join(_type(b) for b in prop["oneOf"])
    kind = prop.get("type")
    if kind == "array":
        return f"list of {_type(prop.get('items', {}))}" if prop.get("items") else "list"
    if kind == "object":
        extra = prop.get("additionalProperties")
        if isinstance(extra, dict) and extra:
            return f"mapping of string to {_type(extra)}"
        return "mapping"
    return {"integer": "integer", "number": "number", "string": "string",
            "boolean": "boolean"}.get(kind or "", "any")


def _bounds(prop: dict[str, Any]) -> str:
    parts: list[str] = []
    for node in [prop, *prop.get("anyOf", [])]:
        for key, sym in (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤"),
                         ("exclusiveMaximum", "<")):
            if key in node:
                parts.append(f"{sym} {node[key]}")
        if "minLength" in node:
            parts.append(f"length ≥ {node['minLength']}")
        if "maxLength" in node:
            parts.append(f"length ≤ {node['maxLength']}")
        if "minItems" in node:
            n = node["minItems"]
            parts.append(f"at least {n} item{'s' if n != 1 else ''}")
        if "pattern" in node:
            parts.append(f"matches `{node['pattern']}`")
    return ", ".join(parts)


def _classes() -> dict[str, type[BaseModel]]:
    return {obj.__name__: obj for obj in vars(scenario_module).values()
            if isinstance(obj, type) and issubclass(obj, Spec)}


def _factory_default(model: type[BaseModel] | None, field: str) -> str:
    info = model.model_fields.get(field) if model is not None else None
    if info is None or info.default_factory is None:
        return ""
    value = info.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        return f"all defaults of {_link(type(value).__name__)}"
    if isinstance(value, (tuple, list)) and value and all(isinstance(v, BaseModel) for v in value):
        names = [str(getattr(v, "name", type(v).__name__)) for v in value]
        return f"{len(value)} items: " + ", ".join(f"`{n}`" for n in names)
    return f"`{json.dumps(value, ensure_ascii=False)}`"


def _default(prop: dict[str, Any], required: bool, model: type[BaseModel] | None,
             field: str) -> str:
    if "default" in prop:
        return f"`{json.dumps(prop['default'], ensure_ascii=False)}`"
    if required:
        return "**required**"
    return _factory_default(model, field)


def _cell(text: str) -> str:
    return " ".join(text.replace("|", "\\|").split())


def _section(name: str, node: dict[str, Any], path: str, model: type[BaseModel] | None) -> str:
    props = node.get("properties", {})
    kind = props.get("kind", {}).get("const")
    title = f"{name} (`kind: {kind}`)" if kind else name
    lines = [f'<a id="{name.lower()}"></a>', "", f"### {title}", ""]
    where = f"`{path}`" if path else "the top level of the file"
    desc = node.get("description", "").strip()
    if desc:
        lines += [desc, ""]
    lines += [f"Appears at {where}.", ""]
    lines += ["| field | type | default | bounds | description |",
              "|---|---|---|---|---|"]
    required = set(node.get("required", []))
    for field, prop in props.items():
        lines.append("| " + " | ".join(_cell(c) for c in (
            f"`{field}`", _type(prop), _default(prop, field in required, model, field),
            _bounds(prop), prop.get("description", "") + _period_rule(prop))) + " |")
    lines.append("")
    return "\n".join(lines)


def _period_rule(prop: dict[str, Any]) -> str:
    """The field's period rule, stated after its description ("" if it has none)."""
    rule = prop.get("per_week")
    if rule is None:
        return ""
    other = prop.get("other")
    if rule == "flow":
        how = f"x · A / a, A = `{other}` per period"
    elif rule == "concentration":
        how = f"matched to the compounded chances of `{other}` (converted with it)"
    elif rule == "chance" and other is not None:
        how = f"the mean of 1 − (1 − θ)^w over the customers' θ (Beta, concentration `{other}`)"
    else:
        how = _RULE_CELL[rule]
    return f" *Default per week; per period of w weeks: {how}.*"


def _option_rules() -> list[str]:
    """Each registered policy kind's options with a period rule, as "`kind`: `option` (rule)"."""
    out = []
    for kind in POLICIES:
        opts = getattr(POLICIES[kind], "Options", PolicyOptions)
        rules = [f"`{name}` ({info.json_schema_extra['per_week']})" for name, info in opts.model_fields.items()
                 if name not in PolicyOptions.model_fields and isinstance(info.json_schema_extra, dict)
                 and "per_week" in info.json_schema_extra]
        if rules:
            out.append(f"`{kind}`: " + ", ".join(rules))
    return out


def _periods() -> list[str]:
    """The section on periods: what is written in periods, what is converted and how."""
    return [
        "## Periods",
        "",
        "`period` sets the length of a period: `week` (the default), `month`, `quarter` or `year` "
        "(w = 1, 52/12, 13 or 52 weeks). **Everything written in a scenario file is in its periods**: "
        "`horizon`, `burn_in`, events' `at` and `duration`, remedies' `start`, every rate, speed, "
        "duration and amount of money per period. **Defaults are given per week** and converted, once, "
        "when the file is read, by each field's rule (stated in its description below as *Default per "
        "week; per period of w weeks: ...*):",
        "",
        "| rule | for | converted default |",
        "|---|---|---|",
        *(f"| {name} | {_cell(text.split(': ', 1)[1])} | {_cell(text.split(': ', 1)[0])} |"
          for name, text in PERIOD_RULES.items()),
        "",
        "Whole numbers of periods are rounded and kept within their bounds (at least 1 where 0 is not "
        "allowed), so `complaint_give_up` (8 weeks) is 2 months and `horizon` (104 weeks) 24 months. "
        "Fields without a rule (levels, shares, weights, amounts per purchase or per event) are the same "
        "whatever the period. A policy's `options` follow the rule each field of its kind declares "
        "(`weekly(...)` in its `Options`): " + ", ".join(_option_rules()) + ".",
        "",
        "`scenario.resolved.yaml` holds the values the run used, converted and written out; reading it "
        "back converts nothing (every value is then written), so it reruns the run bit for bit. A "
        "scenario changed after it was read (a sweep's `--set`, `period` itself) is not converted again.",
        "",
        "With `burn_in: B` the market runs B periods before period 0 under the baseline arm's manager; "
        "nothing of them is reported, and every arm starts period 0 from that same state (the same "
        "customers, CRM records and market), so arms still share every random number from there. "
        "Periods, events and remedies count from period 0.",
        "",
    ]


def _default_segments() -> str:
    base = Segment(name="x", share=1.0)
    lines = ["The default `population.segments` (fields not listed take the defaults of "
             "[Segment](#segment)):", "", "| segment | settings |", "|---|---|"]
    for seg in Scenario(name="x", policies=({"name": "a", "kind": "uniform"},)).population.segments:
        diff = [f"{k}: {v}" for k, v in seg.model_dump().items()
                if k != "name" and v != getattr(base, k)]
        lines.append(f"| `{seg.name}` | " + _cell(", ".join(diff)) + " |")
    return "\n".join(lines) + "\n"


def scenario_reference() -> str:
    """The Markdown reference of the scenario file: every field, by model.

    Returns:
        The text of `docs/scenario-reference.md`.
    """
    schema = Scenario.model_json_schema()
    defs = schema.get("$defs", {})
    classes = _classes()
    out = [
        "# Scenario file reference",
        "",
        "<!-- Generated from the JSON schema by `python -m sim.docs > docs/scenario-reference.md`;"
        " do not edit by hand. -->",
        "",
        "A scenario is a YAML file (TOML is accepted too). Unknown keys are errors; every field "
        "but `name` and `policies` has a default. `retention-lab show default` prints a "
        "scenario to start from, `retention-lab validate FILE` checks one, and "
        "`retention-lab schema` prints the JSON Schema this page is generated from. Rates are "
        "per period; `kind` selects the variant of a policy, bias, remedy or event.",
        "",
        "Files are read strictly; each of these is an error reported as `file:line: field: message` "
        "(exit code 2), in YAML and TOML alike:",
        "",
        "- a key given twice in one mapping (YAML would otherwise let the last one win);",
        "- `true`/`false` or quoted text where a number is expected (`horizon: true`, "
        "`size: \"4000\"`);",
        "- a policy's `options` that its kind does not have, or out of their bounds (each kind's "
        "options are in docs/policies-and-biases.md);",
        f"- more than {MAX_POLICIES} policies;",
        f"- a YAML file holding more than {MAX_VALUES:,} values once its aliases (`*name`) are "
        "expanded, or an alias inside the value it names (an \"alias bomb\" is refused before it "
        "is expanded).",
        "",
        "A scenario's `name` may be written in any script (`顾客-测试`, `Kundenbindung-Ü`) but "
        "holds no spaces; its results folder gets an ASCII-safe version of it (accents dropped, "
        "other characters replaced, and a short hash added when letters with no ASCII form are "
        "lost: `results/scenario-a8138316-<time>/`).",
        "",
    ]
    out += _periods()

    def top(path: str) -> str:
        return path.split(".")[0].removesuffix("[]")

    rank = {g: i for i, g in enumerate(_GROUPS)}
    order = sorted(_order(schema), key=lambda item: rank.get(top(item[1]), len(rank)))
    group = None
    for name, path in order:
        top_ = top(path)
        if top_ != group:
            group = top_
            out += [f"## {_GROUPS.get(top_, top_)}", ""]
        node = schema if name == "Scenario" else defs[name]
        out.append(_section(name, node, path, classes.get(name)))
        if name == "Segment":
            out.append(_default_segments())
    return "\n".join(out).rstrip("\n") + "\n"


def main() -> None:
    """Print the reference (UTF-8) on standard output."""
    sys.stdout.buffer.write(scenario_reference().encode("utf-8"))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
