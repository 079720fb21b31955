"""Reading scenario files: YAML or TOML, built-in names, and errors a person can act on.

Every problem in a file is reported at once, each as
``file:line: field: expected ..., found ...``. `ScenarioError` carries them;
the command line prints them and exits with code 2.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from sim.scenario import Scenario

ROOT = Path(__file__).resolve().parent.parent
#: Where the built-in scenarios live (the repository's `scenarios/` folder).
BUILTIN_DIR = ROOT / "scenarios"


@dataclass(frozen=True)
class Problem:
    """One problem in a scenario file."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class ScenarioError(Exception):
    """A scenario could not be read; `problems` lists every reason."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def builtin_names() -> list[str]:
    """Names of the built-in scenarios."""
    if not BUILTIN_DIR.is_dir():
        return []
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.yaml"))


def builtin_path(name: str) -> Path:
    """Path of a built-in scenario's file."""
    return BUILTIN_DIR / f"{name}.yaml"


def _path_str(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


class _Lines:
    """Maps a location in the data to a line of a YAML file."""

    def __init__(self, node: yaml.Node | None) -> None:
        self.root = node

    def find(self, loc: tuple[Any, ...]) -> tuple[int | None, tuple[Any, ...]]:
        """Line of the deepest node on `loc`, and `loc` with union tags removed."""
        node = self.root
        line = node.start_mark.line + 1 if node is not None else None
        clean: list[Any] = []
        for part in loc:
            if isinstance(node, yaml.MappingNode) and isinstance(part, str):
                for k, v in node.value:
                    if isinstance(k, yaml.ScalarNode) and k.value == part:
                        node, line = v, k.start_mark.line + 1
                        clean.append(part)
                        break
                else:  # a field that is missing or unknown
                    clean.append(part)
                    node = None
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if 0 <= part < len(node.value):
                    node = node.value[part]
                    line = node.start_mark.line + 1
                clean.append(part)
            else:
                clean.append(part)
                node = None
        return line, tuple(clean)


def _found(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _message(err: dict[str, Any]) -> str:
    typ, msg = err["type"], err["msg"]
    if typ in ("unknown_kind", "kind_mapping"):  # the registries' own words (sim.registry)
        return msg
    if typ == "missing":
        return "expected a value, found nothing (this field is required)"
    if typ == "extra_forbidden":
        return "expected no such key (unknown keys are errors; see `retention-lab schema`)"
    if typ == "union_tag_invalid" or typ == "literal_error":
        expected = msg.replace("Input should be ", "")
        return f"expected {expected}, found {_found(err.get('input'))}"
    if msg.startswith("Value error, "):
        return msg[len("Value error, "):]
    if msg.startswith("Input should be "):
        return f"expected {msg[len('Input should be '):]}, found {_found(err.get('input'))}"
    return f"{msg}, found {_found(err.get('input'))}"


def cross_checks(data: Any) -> list[tuple[tuple[Any, ...], str]]:
    """Checks across fields, run on the raw data so they are reported with field errors."""
    out: list[tuple[tuple[Any, ...], str]] = []
    if not isinstance(data, dict):
        return out
    pols = data.get("policies")
    names = [p.get("name") for p in pols if isinstance(p, dict)] if isinstance(pols, list) else []
    base = data.get("baseline")
    if base is not None and isinstance(pols, list) and base not in names:
        out.append((("baseline",), f"expected the name of a policy ({', '.join(map(str, names))}),"
                                   f" found {base!r}"))
    seen: set[Any] = set()
    for i, n in enumerate(names):
        if n in seen:
            out.append((("policies", i, "name"), f"expected a unique policy name, found {n!r} twice"))
        seen.add(n)
    horizon = data.get("horizon", 104)
    market = data.get("market")
    events = market.get("events") if isinstance(market, dict) else None
    if isinstance(horizon, int) and isinstance(events, list):
        for i, ev in enumerate(events):
            at = ev.get("at") if isinstance(ev, dict) else None
            if isinstance(at, int) and not isinstance(at, bool) and at >= horizon:
                out.append((("market", "events", i, "at"),
                            f"expected a period before the horizon ({horizon}), found {at}"))
    return out


def _problems_from(exc: ValidationError, lines: _Lines, file: str,
                   data: Any) -> list[Problem]:
    problems: list[Problem] = []
    errors = exc.errors()
    for err in errors:
        loc = tuple(err["loc"])
        if err["type"] == "too_short" and any(tuple(e["loc"])[:len(loc)] == loc and len(e["loc"]) > len(loc)
                                              for e in errors):
            continue  # a list left empty only because its items were invalid: they are reported
        msg = _message(err)
        # Cross-field messages are reported from `cross_checks` with a precise place.
        if any(s in msg for s in ("names no policy", "is past the horizon",
                                  "policy names must be unique")):
            continue
        line, clean = lines.find(loc)
        problems.append(Problem(file, line, _path_str(clean), msg))
    for loc, msg in cross_checks(data):
        line, clean = lines.find(loc)
        p = Problem(file, line, _path_str(clean), msg)
        if not any(q.field == p.field and q.line == p.line for q in problems):
            problems.append(p)
    problems.sort(key=lambda p: (p.line or 0, p.field))
    return problems


def parse_text(text: str, file: str, fmt: str = "yaml") -> Scenario:
    """Parse and validate scenario text.

    Args:
        text: The file's content.
        file: Name used in messages.
        fmt: "yaml" or "toml".

    Raises:
        ScenarioError: With every problem found.
    """
    lines = _Lines(None)
    if fmt == "toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            # Python < 3.14 gives the line only in the message: "(at line 3, column 5)".
            found = re.search(r"at line (\d+)", str(e))
            line = getattr(e, "lineno", None) or (int(found.group(1)) if found else None)
            raise ScenarioError([Problem(file, line, "", f"not valid TOML: {e}")]) from None
    else:
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
            line = mark.line + 1 if mark is not None else None
            problem = getattr(e, "problem", None) or str(e)
            raise ScenarioError([Problem(file, line, "", f"not valid YAML: {problem}")]) from None
        lines = _Lines(node)
    if data is None:
        raise ScenarioError([Problem(file, None, "", "the file is empty; expected a scenario "
                                                     "(at least `name` and `policies`)")])
    if not isinstance(data, dict):
        raise ScenarioError([Problem(file, 1, "", f"expected a mapping of scenario keys, found "
                                                  f"{type(data).__name__}")])
    problems: list[Problem] = []
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as e:
        problems = _problems_from(e, lines, file, data)
        if not problems:  # pragma: no cover - defensive
            problems = [Problem(file, None, "", str(e))]
        raise ScenarioError(problems) from None
    extra = [Problem(file, *lines.find(loc)[:1], _path_str(lines.find(loc)[1]), msg)
             for loc, msg in cross_checks(data)]
    if extra:
        raise ScenarioError(extra)
    return scenario


def load_scenario(source: str | Path | Scenario) -> Scenario:
    """Load a scenario from a file path or a built-in name.

    Args:
        source: A `.yaml`/`.yml`/`.toml` path, a built-in name (`retention-lab
            list`), or a `Scenario` (returned as is).

    Returns:
        The validated scenario.

    Raises:
        ScenarioError: If the file is missing, unreadable or invalid.
    """
    if isinstance(source, Scenario):
        return source
    path = Path(source)
    if not path.exists():
        if isinstance(source, str) and source in builtin_names():
            path = builtin_path(source)
        else:
            known = ", ".join(builtin_names())
            looks_like_path = path.suffix in {".yaml", ".yml", ".toml"} or "/" in str(source)
            what = "no such file" if looks_like_path else "no such file or built-in scenario"
            raise ScenarioError([Problem(str(source), None, "",
                                         f"{what}; built-in scenarios are: {known}")])
    if path.is_dir():
        raise ScenarioError([Problem(str(source), None, "", "is a folder, expected a file")])
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ScenarioError([Problem(str(source), None, "", f"cannot be read: {e}")]) from None
    fmt = "toml" if path.suffix == ".toml" else "yaml"
    return parse_text(text, str(source), fmt)
