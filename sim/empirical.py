"""Empirical inputs: a social network read from an edge list, customers read from a table.

A scenario may name two CSV files, resolved relative to the scenario file
(relative to the working folder for a scenario built in Python):

- `population.network: {kind: edges, file: ties.csv}`: the ties, one per line,
  under the header `source,target`: two customer ids each, undirected, each tie
  once (a tie listed twice, in either direction, or a customer tied to
  themselves is an error);
- `population.customers: customers.csv`: one customer per line, under a header
  naming its columns: `id` and `segment` (a segment's name) are required; any
  of `TABLE_COLUMNS` may follow, an empty cell leaving that customer's value
  as the model draws it. The table's customers are the customers at period 0
  (`population.size` is their number), and, with a `status` column, the
  prospects the firm may still win (`potential`; then their number sets
  `population.potential`).

Every problem of a file is reported at once as `file:line: column: message`
(`FileProblem`; the loader turns them into its own `Problem`s, exit code 2).
The loader checks the files when it reads the scenario (`resolve_inputs`, which
also makes the files' paths absolute, so the scenario runs from any folder and
in worker processes); the model applies them when it draws its customers
(`apply_inputs`, one call in `CustomerPopulation`). Files are read once per
process and kept while they are unchanged.

This module imports nothing above `sim.scenario` when the loader uses it (numpy
and the compiled kernels are imported where the population is built).
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    import numpy as np

    from sim.agents.customers import CustomerPopulation
    from sim.scenario import Population, Scenario

#: Optional columns of a customer table: name → (what the value is, lowest, highest).
#: Bounds are inclusive; "number" columns take any finite number, "count" columns whole numbers.
TABLE_COLUMNS: dict[str, tuple[str, float, float]] = {
    "status": ("status", 0, 0),
    "satisfaction": ("number", 0.0, 1.0),
    "loyalty": ("number", 0.0, 1.0),
    "lock": ("number", 0.0, 1.0),
    "relationship": ("number", 0.0, 1.0),
    "expectation": ("number", -math.inf, math.inf),
    "needs": ("number", -math.inf, math.inf),
    "spend": ("number", 1e-9, math.inf),
    "purchase_rate": ("number", 0.0, math.inf),
    "base_churn": ("number", 0.0, 1.0),
    "dropout": ("number", 0.0, 1.0),
    "growth_max": ("number", 1.0, math.inf),
    "likability": ("number", -math.inf, math.inf),
    "advocacy": ("number", -math.inf, math.inf),
    "price_sensitivity": ("number", 0.0, math.inf),
    "complaint_propensity": ("number", 0.0, math.inf),
    "sociability": ("number", 0.0, math.inf),
    "service_sensitivity": ("number", 0.0, math.inf),
    "cost_to_serve": ("number", 0.0, math.inf),
    "tenure": ("count", 0, 32_000),
}
REQUIRED = ("id", "segment")
EDGE_COLUMNS = ("source", "target")
#: Columns drawn per customer from the segment: a customer the table moves to another segment takes
#: them from a customer drawn in that one.
DRAWN = ("spend", "purchase_rate", "base_churn", "dropout", "growth_max", "likability", "advocacy", "needs")
#: At most this many problems of one file are listed.
MAX_PROBLEMS = 20
STATUS_WORDS = {"active": 1, "1": 1, "potential": 0, "0": 0}


class FileProblem(NamedTuple):
    """One problem in an input file (or in the scenario field that names it): `sim.loader.Problem`'s fields."""

    file: str
    line: int | None
    field: str
    message: str


class InputError(ValueError):
    """An input file is missing or wrong; `problems` lists every reason (the loader reports them)."""

    def __init__(self, problems: list[FileProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(": ".join(x for x in (f"{p.file}:{p.line}" if p.line else p.file, p.field,
                                                          p.message) if x) for p in problems))


@dataclass(frozen=True)
class CustomerTable:
    """A customer table, its active customers first (the model's rows 0, 1, ...).

    Attributes:
        ids: Each row's id as written.
        segment: Each row's segment name.
        active: Number of active customers (the first rows); the rest are prospects.
        values: Column → one value per row (float64; NaN: not given), for the columns given.
    """

    ids: tuple[str, ...]
    segment: tuple[str, ...]
    active: int
    values: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def potential(self) -> int:
        """Number of prospects in the table."""
        return len(self.ids) - self.active


def uses_files(population: Population) -> bool:
    """Whether a population reads a customer table or an edge list."""
    return population.customers is not None or population.network.kind == "edges"


def _rows(path: Path, shown: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and (line, cells) of each non-empty row of a CSV file (UTF-8, a BOM allowed)."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.reader(f)
            header = [h.strip() for h in next(reader, [])]
            rows = [(reader.line_num, r) for r in reader if len(r) > 1 or (r and r[0].strip())]
    except FileNotFoundError:
        raise InputError([FileProblem(shown, None, "", "no such file")]) from None
    except IsADirectoryError:
        raise InputError([FileProblem(shown, None, "", "is a folder, expected a CSV file")]) from None
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise InputError([FileProblem(shown, None, "", f"cannot be read as CSV: {e}")]) from None
    if not header or not any(header):
        raise InputError([FileProblem(shown, 1, "", "the file is empty; expected a header line")])
    return header, rows


def _header(header: list[str], shown: str, required: Sequence[str],
            optional: Sequence[str]) -> list[FileProblem]:
    known = [*required, *optional]
    problems = [FileProblem(shown, 1, name or "(empty)", f"unknown column; expected {', '.join(known)}")
                for name in header if name not in known]
    problems += [FileProblem(shown, 1, name, "missing column (it is required)")
                 for name in required if name not in header]
    problems += [FileProblem(shown, 1, name, "column given twice")
                 for name in sorted(set(header)) if header.count(name) > 1]
    return problems


def _value(text: str, name: str) -> tuple[float | None, str | None]:
    """A cell's value (None: empty), or the reason it is wrong."""
    what, low, high = TABLE_COLUMNS[name]
    if what == "status":
        word = STATUS_WORDS.get(text.lower())
        return (None, f"expected active or potential, found {text!r}") if word is None else (float(word), None)
    try:
        v = float(text)
    except ValueError:
        return None, f"expected a number, found {text!r}"
    if not math.isfinite(v):
        return None, f"expected a finite number, found {text!r}"
    if what == "count" and v != int(v):
        return None, f"expected a whole number of periods, found {text!r}"
    if not low <= v <= high:
        if math.isinf(high):
            return None, f"expected a number of at least {low:g}, found {text}"
        return None, f"expected a number from {low:g} to {high:g}, found {text}"
    return v, None


def read_customers(path: Path, shown: str, segments: Sequence[str]) -> CustomerTable:
    """Read and check a customer table.

    Args:
        path: The file.
        shown: The file's name in messages.
        segments: The scenario's segment names.

    Raises:
        InputError: With every problem found (at most `MAX_PROBLEMS`).
    """
    header, rows = _rows(path, shown)
    problems = _header(header, shown, REQUIRED, tuple(TABLE_COLUMNS))
    if problems:
        raise InputError(problems)
    given = [h for h in header if h in TABLE_COLUMNS]
    ids: list[str] = []
    segs: list[str] = []
    values: dict[str, list[float]] = {name: [] for name in given}
    first: dict[str, int] = {}
    for line, cells in rows:
        if len(cells) != len(header):
            problems.append(FileProblem(shown, line, "", f"expected {len(header)} fields (as the header), "
                                                         f"found {len(cells)}"))
            continue
        row = dict(zip(header, (c.strip() for c in cells), strict=True))
        cid, seg = row["id"], row["segment"]
        if not cid:
            problems.append(FileProblem(shown, line, "id", "expected an id, found an empty cell"))
        elif cid in first:
            problems.append(FileProblem(shown, line, "id",
                                        f"id {cid!r} is given twice (first on line {first[cid]})"))
        first.setdefault(cid, line)
        if seg not in segments:
            problems.append(FileProblem(shown, line, "segment", f"expected a segment of the scenario "
                                                                f"({', '.join(segments)}), found {seg!r}"))
        ids.append(cid)
        segs.append(seg)
        for name in given:
            v, why = _value(row[name], name) if row[name] else (None, None)
            if why:
                problems.append(FileProblem(shown, line, name, why))
            values[name].append(math.nan if v is None else v)
    if not rows:
        problems.append(FileProblem(shown, 1, "", "the table has no customers"))
    if problems:
        raise InputError(problems[:MAX_PROBLEMS] + _more(problems, shown))
    status = values.pop("status", None)
    # Active customers first (rows 0, 1, ... of the model), each group in the file's order.
    active = [i for i in range(len(ids)) if status is None or status[i] != 0]
    order = active + [i for i in range(len(ids)) if status is not None and status[i] == 0]
    import numpy as np

    return CustomerTable(tuple(ids[i] for i in order), tuple(segs[i] for i in order), len(active),
                         {k: np.asarray(v, dtype=np.float64)[order] for k, v in values.items()})


def _more(problems: list[FileProblem], shown: str) -> list[FileProblem]:
    if len(problems) <= MAX_PROBLEMS:
        return []
    return [FileProblem(shown, None, "", f"... and {len(problems) - MAX_PROBLEMS} more problems")]


def read_edges(path: Path, shown: str, row_of: Callable[[str], int | str]) -> tuple[list[int], list[int]]:
    """Read and check an edge list.

    Args:
        path: The file.
        shown: The file's name in messages.
        row_of: A customer id → its row in the model, or the reason it names no customer.

    Returns:
        The rows of each tie's two ends.

    Raises:
        InputError: With every problem found (at most `MAX_PROBLEMS`).
    """
    header, rows = _rows(path, shown)
    problems = _header(header, shown, EDGE_COLUMNS, ())
    if problems:
        raise InputError(problems)
    src: list[int] = []
    dst: list[int] = []
    seen: dict[tuple[int, int], int] = {}
    for line, cells in rows:
        if len(cells) != len(header):
            problems.append(FileProblem(shown, line, "",
                                        f"expected 2 fields (source,target), found {len(cells)}"))
            continue
        row = dict(zip(header, (c.strip() for c in cells), strict=True))
        a, b = row_of(row["source"]), row_of(row["target"])
        if isinstance(a, str) or isinstance(b, str):
            problems += [FileProblem(shown, line, name, r) for name, r in zip(EDGE_COLUMNS, (a, b), strict=True)
                         if isinstance(r, str)]
            continue
        if a == b:
            problems.append(FileProblem(shown, line, "target", f"a tie from customer {row['source']!r} to "
                                                               "themselves; ties join two customers"))
            continue
        key = (min(a, b), max(a, b))
        if key in seen:
            problems.append(FileProblem(shown, line, "target", f"the tie {row['source']}–{row['target']} is "
                                        f"given twice (first on line {seen[key]}); ties are undirected: "
                                        "list each once"))
            continue
        seen[key] = line
        src.append(a)
        dst.append(b)
    if problems:
        raise InputError(problems[:MAX_PROBLEMS] + _more(problems, shown))
    return src, dst


def _stamp(path: Path) -> tuple[str, int, int]:
    try:
        st = path.stat()
    except OSError:
        return str(path), 0, -1
    return str(path), st.st_mtime_ns, st.st_size


#: Files read in this process, by (path, modification time, size) and what they were read for.
_READ: dict[tuple[Any, ...], Any] = {}


def _cached(key: tuple[Any, ...], read: Callable[[], Any]) -> Any:
    """`read()`, kept for `key` while the process lives (a few files at most; errors are not kept)."""
    if key not in _READ:
        if len(_READ) >= 8:
            _READ.pop(next(iter(_READ)))
        _READ[key] = read()
    return _READ[key]


def _edges_read(path: Path, shown: str, ids: tuple[str, ...] | None, n: int) -> tuple[list[int], list[int]]:
    rows = {cid: i for i, cid in enumerate(ids)} if ids is not None else None

    def row_of(cid: str) -> int | str:
        if rows is not None:
            r = rows.get(cid)
            return f"id {cid!r} is not in the customer table" if r is None else r
        try:
            r = int(cid)
        except ValueError:
            return f"expected a customer number (0–{n - 1}; ids need a customer table), found {cid!r}"
        return r if 0 <= r < n else f"expected a customer number from 0 to {n - 1}, found {r}"

    return read_edges(path, shown, row_of)


def customers_of(population: Population, shown: str | None = None) -> CustomerTable | None:
    """The population's customer table (read once per process while the file is unchanged), or None."""
    if population.customers is None:
        return None
    path = Path(population.customers)
    segments = tuple(s.name for s in population.segments)
    return _cached(("customers", _stamp(path), segments),
                   lambda: read_customers(path, shown or str(path), segments))


def edges_of(population: Population, n: int, shown: str | None = None) -> tuple[list[int], list[int]]:
    """The ties of an `edges` network as model rows (read once per process while the file is unchanged)."""
    path = Path(population.network.file or "")
    table = customers_of(population)
    ids = table.ids if table is not None else None
    return _cached(("edges", _stamp(path), ids, n), lambda: _edges_read(path, shown or str(path), ids, n))


def pool_size(size: int, potential: float) -> int:
    """Everyone of the market: the customers and the prospects (as `CustomerPopulation` counts them)."""
    return size + round(size * potential)


def resolve_inputs(scenario: Scenario, base: Path, source: str,
                   line_of: Callable[[tuple[Any, ...]], int | None]) -> Scenario:
    """Check a scenario's input files, with their paths made absolute and the population's size set.

    Args:
        scenario: The scenario as read.
        base: The scenario file's folder (relative paths are relative to it).
        source: The scenario file's name in messages.
        line_of: A field's location (`("population", "customers")`) → its line in the scenario file.

    Returns:
        The scenario with absolute paths; with a customer table, `population.size` is the
        number of its active customers and, when it lists prospects, `population.potential`
        their number over it.

    Raises:
        InputError: With every problem of the files and of the fields that name them.
    """
    pop = scenario.population
    if not uses_files(pop):
        return scenario
    where = {"customers": ("population", "customers"), "network": ("population", "network", "file")}
    names = {"customers": pop.customers, "network": pop.network.file if pop.network.kind == "edges" else None}
    paths = {k: _absolute(base, v) for k, v in names.items() if v is not None}
    shown = {k: os.path.normpath(Path(source).parent / names[k]) for k in paths}
    problems = [FileProblem(source, line_of(where[k]), ".".join(where[k]), f"no such file: {p}")
                for k, p in paths.items() if not p.is_file()]
    if problems:
        raise InputError(problems)
    updates: dict[str, Any] = {"network": pop.network}
    if "network" in paths:
        updates["network"] = pop.network.model_copy(update={"file": str(paths["network"])})
    if "customers" in paths:
        updates["customers"] = str(paths["customers"])
        table = customers_of(pop.model_copy(update=updates), shown["customers"])
        assert table is not None
        updates.update(_sizes(pop, table, source, line_of, shown["customers"]))
    resolved = pop.model_copy(update=updates)
    if "network" in paths:
        edges_of(resolved, pool_size(resolved.size, resolved.potential), shown["network"])
    return scenario.model_copy(update={"population": resolved})


def _absolute(base: Path, name: str) -> Path:
    path = Path(name).expanduser()
    return (path if path.is_absolute() else base / path).resolve()


def _sizes(pop: Population, table: CustomerTable, source: str, line_of: Callable[[tuple[Any, ...]], int | None],
           shown: str) -> dict[str, Any]:
    """`size` (and `potential`) from a customer table; a size written in the file must agree."""
    problems = []
    if table.active < 10:
        problems.append(FileProblem(shown, None, "", f"expected at least 10 active customers, "
                                                     f"found {table.active}"))
    if "size" in pop.model_fields_set and pop.size != table.active:
        problems.append(FileProblem(source, line_of(("population", "size")), "population.size",
                                    f"expected {table.active} (the active customers of {shown}) or no size, "
                                    f"found {pop.size}"))
    out: dict[str, Any] = {"size": table.active}
    if table.potential:
        share = table.potential / max(table.active, 1)
        if share > 10:
            problems.append(FileProblem(shown, None, "status", f"expected at most 10 prospects per active "
                                                               f"customer, found {share:g}"))
        if "potential" in pop.model_fields_set and pool_size(table.active, pop.potential) != len(table):
            problems.append(FileProblem(source, line_of(("population", "potential")), "population.potential",
                                        f"expected {share:g} (the prospects of {shown} over its active "
                                        f"customers) or no potential, found {pop.potential:g}"))
        out["potential"] = share
    if problems:
        raise InputError(problems)
    return out


# --------------------------------------------------------------------------- in the model


def apply_inputs(pop: CustomerPopulation, scenario: Scenario, rng: np.random.Generator) -> None:
    """Give the freshly drawn customers the table's states and traits and the file's ties, if any.

    Called once by `CustomerPopulation` after its columns are drawn (and before it lays
    them out); it draws from `rng`, the population's own stream, only with a customer
    table.

    Raises:
        InputError: If a file is wrong (a scenario not checked by the loader), or the table
            does not match the population's size (e.g. a sweep over `population.size`).
    """
    spec = scenario.population
    if not uses_files(spec):
        return
    table = customers_of(spec)
    if table is not None:
        if table.active != pop.initial_size or (table.potential and len(table) != pop.n):
            raise InputError([FileProblem(
                str(spec.customers), None, "", f"the table has {table.active} active customers and "
                f"{table.potential} prospects; the scenario's population has {pop.initial_size} customers and "
                f"{pop.n - pop.initial_size} prospects (leave population.size and potential unset)")])
        _apply_table(pop, table, spec, rng)
    if spec.network.kind == "edges":
        from sim.network import edge_network

        src, dst = edges_of(spec, pop.n)
        pop.network = edge_network(pop.n, _array(src), _array(dst))


def _array(values: list[int]) -> np.ndarray:
    import numpy as np

    return np.asarray(values, dtype=np.int32)


def _apply_table(pop: CustomerPopulation, table: CustomerTable, spec: Population,
                 rng: np.random.Generator) -> None:
    """The table's segments, then its values, then what follows from them (states at rest, CRM history)."""
    import numpy as np

    cols, m = pop._cols, len(table)
    names = [s.name for s in spec.segments]
    new = np.array([names.index(s) for s in table.segment], dtype=np.int16)
    drawn = cols["segment"].copy()
    moved = np.flatnonzero(drawn[:m] != new)
    before = {name: cols[name].copy() for name in DRAWN}
    for k in np.unique(new[moved]):
        # A customer moved to segment k takes the traits of a customer drawn in it.
        who = moved[new[moved] == k]
        donors = np.flatnonzero(drawn == k)
        if not donors.size:
            raise InputError([FileProblem(str(spec.customers), None, "segment", f"no customer of segment "
                                          f"{names[k]!r} was drawn to take traits from; raise its share")])
        pick = rng.choice(donors, size=who.size, replace=who.size > donors.size)
        for name in DRAWN:
            cols[name][who] = before[name][pick]
    cols["segment"][:m] = new
    given = {name: np.asarray(v, dtype=np.float64) for name, v in table.values.items()}
    for name, v in given.items():
        rows = np.flatnonzero(~np.isnan(v))
        if name in pop._trait_table:
            trait = pop._trait_rows.get(name)
            if trait is None:
                trait = pop._trait_table[name][cols["segment"]].astype(np.float32)
            trait[rows] = v[rows]
            pop._trait_rows[name] = trait
        elif name in cols:
            cols[name][rows] = v[rows]
    _settle(pop, spec, moved, given, rng)


def _settle(pop: CustomerPopulation, spec: Population, moved: np.ndarray, given: dict[str, np.ndarray],
            rng: np.random.Generator) -> None:
    """States at rest and CRM history again for the customers whose segment or traits the table changed."""
    import numpy as np

    from sim.agents import kernels
    from sim.agents.state import ACTIVE

    cols, n = pop._cols, pop.n

    def mask(*names: str) -> np.ndarray:
        out = np.zeros(n, dtype=bool)
        out[moved] = True
        for name in names:
            if name in given:
                out[: given[name].size] |= ~np.isnan(given[name])
        return out

    rest = np.flatnonzero(mask("needs"))
    cols["expectation"][rest] = np.float32(pop.quality)
    kernels.at_rest(rest.astype(np.int64), cols["needs"], cols["segment"], pop.segment_needs,
                    np.float32(pop.quality), np.float32(0.0), cols["expectation"], cols["satisfaction"],
                    cols["loyalty"], pop.params)
    seg_sat = np.array([np.nan if s.satisfaction is None else s.satisfaction for s in spec.segments])
    seg_loy = np.array([np.nan if s.loyalty is None else s.loyalty for s in spec.segments])
    k = cols["segment"][rest]
    cols["satisfaction"][rest] = np.where(np.isnan(seg_sat[k]), cols["satisfaction"][rest], seg_sat[k])
    cols["loyalty"][rest] = np.where(np.isnan(seg_loy[k]), cols["satisfaction"][rest], seg_loy[k])
    for name in ("expectation", "satisfaction", "loyalty"):
        if name in given:
            rows = np.flatnonzero(~np.isnan(given[name]))
            cols[name][rows] = given[name][rows]
            if name == "satisfaction":  # loyalty follows satisfaction unless given
                follow = rows[np.isnan(seg_loy[cols["segment"][rows]])]
                if "loyalty" in given:
                    follow = follow[np.isnan(given["loyalty"][follow])]
                cols["loyalty"][follow] = cols["satisfaction"][follow]
    cols["needs_signal"][rest] = cols["needs"][rest]
    active = cols["status"] == ACTIVE
    pop._history(active & mask("purchase_rate", "base_churn"), rng)
    bought = active & mask("spend")
    cols["monetary"][bought] = cols["spend"][bought]
    if "tenure" in given:
        rows = np.flatnonzero(~np.isnan(given["tenure"]))
        # tenure when the model starts: before the burn-in, if any (as the drawn history [D0])
        joined = np.minimum(given["tenure"][rows] + pop.burn_in, np.iinfo(np.int16).max)
        cols["joined"][rows] = -joined.astype(np.int16)
        cols["last_purchase"][rows] = np.maximum(cols["last_purchase"][rows], cols["joined"][rows])
