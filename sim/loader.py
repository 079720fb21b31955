"""Reading scenario files: YAML or TOML, built-in names, and errors a person can act on.

Every problem in a file is reported at once, each as
``file:line: field: expected ..., found ...``. `ScenarioError` carries them;
the command line prints them and exits with code 2.

Files are read strictly: a key given twice in a mapping is an error (YAML would
let the last one win), a file may hold at most `MAX_VALUES` values counting
every use of a YAML alias (`*name`) in full (an "alias bomb" is refused before
it is expanded), and at most `MAX_POLICIES` policies.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from sim.empirical import InputError, resolve_inputs, uses_files
from sim.registry import POLICIES
from sim.scenario import MAX_POLICIES, Scenario, default_in

ROOT = Path(__file__).resolve().parent.parent
#: Where the built-in scenarios live (the repository's `scenarios/` folder).
BUILTIN_DIR = ROOT / "scenarios"
#: Most values (mappings, lists and scalars) a YAML file may hold once its aliases are expanded.
MAX_VALUES = 100_000
#: libyaml's parser when PyYAML was built with it (several times faster), else PyYAML's own.
_COMPOSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


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


class _TomlLines:
    """Maps a location in the data to a line of a TOML file (tables, arrays of tables, keys).

    Values inside inline tables and multi-line arrays are placed at the line of their key.
    """

    _HEADER = re.compile(r"^\[\[?\s*(.+?)\s*\]\]?\s*(#.*)?$")
    _PART = r"""(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')"""
    _KEY = re.compile(rf"^({_PART}(?:\s*\.\s*{_PART})*)\s*=")

    def __init__(self, text: str) -> None:
        self.lines: dict[tuple[Any, ...], int] = {}
        index: dict[tuple[Any, ...], int] = {}  # array of tables → index of its current table
        table: tuple[Any, ...] = ()
        multi: str | None = None
        for no, raw in enumerate(text.splitlines(), 1):
            s = raw.strip()
            if multi is not None:  # inside a multi-line string
                if s.count(multi) % 2:
                    multi = None
                continue
            if not s or s.startswith("#"):
                continue
            self.lines.setdefault((), no)
            header = self._HEADER.match(s) if s.startswith("[") else None
            if header:
                path = self._resolve(self._parts(header.group(1)), index)
                if s.startswith("[["):
                    index[path] = index.get(path, -1) + 1
                    path = (*path, index[path])
                table = path
                self.lines.setdefault(table, no)
                continue
            key = self._KEY.match(s)
            if key:
                self.lines.setdefault((*table, *self._parts(key.group(1))), no)
                for quote in ('"""', "'''"):
                    if s.count(quote) % 2:
                        multi = quote

    @staticmethod
    def _parts(dotted: str) -> tuple[str, ...]:
        return tuple(m.group(0).strip("\"'") for m in
                     re.finditer(r'"[^"]*"|\'[^\']*\'|[A-Za-z0-9_-]+', dotted))

    @staticmethod
    def _resolve(parts: tuple[str, ...], index: dict[tuple[Any, ...], int]) -> tuple[Any, ...]:
        path: tuple[Any, ...] = ()
        for i, part in enumerate(parts):
            path = (*path, part)
            if i < len(parts) - 1 and path in index:  # a table inside the array's current table
                path = (*path, index[path])
        return path

    def find(self, loc: tuple[Any, ...]) -> tuple[int | None, tuple[Any, ...]]:
        """Line of the longest prefix of `loc` the file names, and `loc`."""
        for n in range(len(loc), -1, -1):
            if loc[:n] in self.lines:
                return self.lines[loc[:n]], tuple(loc)
        return None, tuple(loc)


def _key_line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _yaml_duplicates(root: yaml.Node, file: str) -> list[Problem]:
    """A key given twice in one mapping (YAML would let the last one silently win)."""
    problems: list[Problem] = []
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, tuple[Any, ...]]] = [(root, ())]
    while stack:
        node, loc = stack.pop()
        if id(node) in seen:  # an alias: its node was checked where it was defined
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[tuple[str, str], int] = {}
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode):
                    if k.tag == "tag:yaml.org,2002:merge":
                        continue  # `<<: *base`: keys given next to it override the merged ones
                    where = (*loc, k.value)
                    if (k.tag, k.value) in first:
                        problems.append(Problem(
                            file, _key_line(k), _path_str(where),
                            f"duplicate key: given on line {first[(k.tag, k.value)]} and again on line "
                            f"{_key_line(k)}; give each key once"))
                    else:
                        first[(k.tag, k.value)] = _key_line(k)
                else:
                    where = loc
                stack.append((v, where))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((v, (*loc, i)) for i, v in enumerate(node.value))
    problems.sort(key=lambda p: p.line or 0)
    return problems


def _yaml_size(root: yaml.Node, file: str) -> list[Problem]:
    """Refuse a file that holds more than `MAX_VALUES` values once its aliases are expanded.

    Counted on the composed nodes, where an alias is the node it names (nothing is
    expanded yet), in time proportional to the file's own size.
    """
    size: dict[int, int] = {}

    def children(node: yaml.Node) -> list[yaml.Node]:
        if isinstance(node, yaml.MappingNode):
            return [n for pair in node.value for n in pair]
        if isinstance(node, yaml.SequenceNode):
            return list(node.value)
        return []

    # Depth-first, children before parents, without recursion; a node met again while its own
    # children are being counted is an alias to itself.
    open_: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            open_.discard(key)
            size[key] = min(1 + sum(size[id(c)] for c in children(node)), MAX_VALUES + 1)
            continue
        if key in size:
            continue
        if key in open_:
            return [Problem(file, _key_line(node), "", "an alias (`*name`) refers to the value that "
                                                         "contains it; a scenario cannot be recursive")]
        open_.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in children(node) if id(c) not in size)
    if size[id(root)] <= MAX_VALUES:
        return []
    # Point at the smallest part of the file that is too big on its own.
    node, loc, line = root, (), _key_line(root)
    while True:
        if isinstance(node, yaml.MappingNode):
            steps = [(v, (*loc, k.value if isinstance(k, yaml.ScalarNode) else "?"), _key_line(k))
                     for k, v in node.value]
        elif isinstance(node, yaml.SequenceNode):
            steps = [(v, (*loc, i), _key_line(v)) for i, v in enumerate(node.value)]
        else:
            steps = []
        big = [s for s in steps if size[id(s[0])] > MAX_VALUES]
        if not big:
            break
        node, loc, line = big[0]
    return [Problem(file, line, _path_str(loc),
                    f"expands to more than {MAX_VALUES:,} values (counting every use of an alias "
                    f"`*name` in full); a scenario is much smaller: is it an alias bomb?")]


def _yaml_policies(root: yaml.Node, file: str) -> list[Problem]:
    """More than `MAX_POLICIES` policies, counted before anything is expanded or built."""
    if isinstance(root, yaml.MappingNode):
        for k, v in root.value:
            if isinstance(k, yaml.ScalarNode) and k.value == "policies" \
                    and isinstance(v, yaml.SequenceNode) and len(v.value) > MAX_POLICIES:
                return [Problem(file, _key_line(k), "policies", f"expected at most {MAX_POLICIES} "
                                                                 f"policies, found {len(v.value):,}")]
    return []


def _too_many_policies(data: dict[str, Any], lines: Any, file: str) -> list[Problem]:
    pols = data.get("policies")
    if isinstance(pols, list) and len(pols) > MAX_POLICIES:
        line, _ = lines.find(("policies",))
        return [Problem(file, line, "policies", f"expected at most {MAX_POLICIES} policies, found "
                                                f"{len(pols):,}")]
    return []


_TOML_WORDS = (  # tomllib's messages, in ours
    ("Cannot overwrite a value", "duplicate key: this key is given twice; give each key once"),
    ("Cannot declare", "duplicate table: this table is declared twice; declare each table once"),
    ("Cannot mutate immutable namespace", "duplicate key: this key or table is given twice"),
)


def _toml_message(text: str) -> str:
    text = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", text)
    for words, ours in _TOML_WORDS:
        if text.startswith(words):
            return ours
    return f"not valid TOML: {text}"


def _found(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_EXPECTED = {  # pydantic's error types, in the product's words
    "int_type": "an integer", "int_parsing": "an integer", "int_from_float": "a whole number",
    "float_type": "a number", "float_parsing": "a number", "bool_type": "true or false",
    "bool_parsing": "true or false", "string_type": "text", "tuple_type": "a list",
    "list_type": "a list", "dict_type": "a mapping (`key: value` lines)",
    "model_type": "a mapping (`key: value` lines)", "model_attributes_type": "a mapping (`key: value` lines)",
    "union_tag_not_found": "a mapping with a `kind`", "union_tag_invalid": "a known `kind`",
}


def _items(n: Any) -> str:
    return f"{n} item" if n == 1 else f"{n} items"


def _message(err: dict[str, Any]) -> str:
    typ, msg, ctx = err["type"], err["msg"], err.get("ctx") or {}
    found = _found(err.get("input"))
    if typ in ("unknown_kind", "kind_mapping", "number_type", "scenario_name"):  # our own words
        return msg
    if typ == "missing":
        return "expected a value, found nothing (this field is required)"
    if typ == "extra_forbidden":
        return "expected no such key (unknown keys are errors; see `retention-lab schema`)"
    if typ == "too_short":
        n = ctx.get("actual_length", 0)
        return f"expected at least {_items(ctx.get('min_length', 1))}, found {_items(n) if n else 'none'}"
    if typ == "too_long":
        return f"expected at most {_items(ctx.get('max_length'))}, found {ctx.get('actual_length')}"
    if typ == "literal_error":
        return f"expected {msg.replace('Input should be ', '')}, found {found}"
    if typ in _EXPECTED:
        return f"expected {_EXPECTED[typ]}, found {found}"
    if msg.startswith("Value error, "):
        return msg[len("Value error, "):]
    if msg.startswith("Input should be "):
        return f"expected {msg[len('Input should be '):]}, found {found}"
    return f"{msg}, found {found}"


def _option_message(err: dict[str, Any], loc: tuple[Any, ...], data: Any) -> str | None:
    """An unknown option of a policy kind, with the kind's options."""
    if err["type"] != "extra_forbidden" or len(loc) != 4 or loc[0] != "policies" or loc[2] != "options":
        return None
    try:
        kind = data["policies"][loc[1]]["kind"]
        options = ", ".join(POLICIES[kind].Options.model_fields)
    except (KeyError, IndexError, TypeError, AttributeError):
        return None
    return f"unknown option for policy kind {kind}; its options are: {options}"


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
    horizon = data.get("horizon", default_in(data.get("period", "week"), Scenario, "horizon"))
    market = data.get("market")
    events = market.get("events") if isinstance(market, dict) else None
    if isinstance(horizon, int) and isinstance(events, list):
        for i, ev in enumerate(events):
            at = ev.get("at") if isinstance(ev, dict) else None
            if isinstance(at, int) and not isinstance(at, bool) and at >= horizon:
                out.append((("market", "events", i, "at"),
                            f"expected a period before the horizon ({horizon}), found {at}"))
    return out


def _problems_from(exc: ValidationError, lines: _Lines | _TomlLines, file: str,
                   data: Any) -> list[Problem]:
    problems: list[Problem] = []
    errors = exc.errors()
    for err in errors:
        loc = tuple(err["loc"])
        if err["type"] == "too_short" and any(tuple(e["loc"])[:len(loc)] == loc and len(e["loc"]) > len(loc)
                                              for e in errors):
            continue  # a list left empty only because its items were invalid: they are reported
        msg = _option_message(err, loc, data) or _message(err)
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
    lines: _Lines | _TomlLines = _Lines(None)
    if fmt == "toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            # Python < 3.14 gives the line only in the message: "(at line 3, column 5)".
            found = re.search(r"at line (\d+)", str(e))
            line = getattr(e, "lineno", None) or (int(found.group(1)) if found else None)
            raise ScenarioError([Problem(file, line, "", _toml_message(getattr(e, "msg", None) or str(e)))]) \
                from None
        lines = _TomlLines(text)
    else:
        try:
            node = yaml.compose(text, Loader=_COMPOSER)
            if node is not None:
                found_problems = (_yaml_duplicates(node, file) or _yaml_policies(node, file)
                                  or _yaml_size(node, file))
                if found_problems:
                    raise ScenarioError(found_problems)
            # Built from the nodes already composed (an alias stays one shared object).
            data = yaml.SafeLoader("").construct_document(node) if node is not None else None
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
            line = mark.line + 1 if mark is not None else None
            problem = getattr(e, "problem", None) or str(e)
            raise ScenarioError([Problem(file, line, "", f"not valid YAML: {problem}")]) from None
        except RecursionError:
            raise ScenarioError([Problem(file, None, "", "not valid YAML: nested too deeply")]) from None
        lines = _Lines(node)
    if data is None:
        raise ScenarioError([Problem(file, None, "", "the file is empty; expected a scenario "
                                                     "(at least `name` and `policies`)")])
    if not isinstance(data, dict):
        raise ScenarioError([Problem(file, 1, "", f"expected a mapping of scenario keys, found "
                                                  f"{type(data).__name__}")])
    problems: list[Problem] = _too_many_policies(data, lines, file)
    if problems:  # refused before thousands of arms are validated one by one
        raise ScenarioError(problems)
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
    return _with_inputs(parse_text(text, str(source), fmt), path, text, fmt, str(source))


def _with_inputs(scenario: Scenario, path: Path, text: str, fmt: str, source: str) -> Scenario:
    """The scenario with its input files (`sim.empirical`) checked and their paths made absolute."""
    if not uses_files(scenario.population):
        return scenario
    lines = _TomlLines(text) if fmt == "toml" else _Lines(yaml.compose(text, Loader=_COMPOSER))
    try:
        return resolve_inputs(scenario, path.parent, source, lambda loc: lines.find(loc)[0])
    except InputError as e:
        raise ScenarioError([Problem(p.file, p.line, p.field, p.message) for p in e.problems]) from None
