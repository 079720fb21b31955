"""Per-customer outputs of a run (`run --agents`, `sweep --agents`): Parquet files, one per replication and arm.

Customers are columns, not Mesa agents, so Mesa's agent reporters cannot
collect them; this module writes them instead, only when asked (nothing is
collected otherwise). The files go to the results folder's `agents/`:

- `agents/customers/rep-00000-00-<arm>.parquet`: every customer ever active in
  the replication (active or churned at the end; prospects never won are left
  out), their state at the end of the run;
- with `every`, also `agents/periods/rep-00000-00-<arm>.parquet`: one row per
  customer per period, for the customers active at the end of that period or
  lost in it, written period by period (memory does not grow with the
  horizon).

Each row carries `replication`, `policy` (the arm), the customer's `id` (row of
the population; with a customer table, also `table_id`, its id there), `segment`
(its name), `status` (`active` or `churned`), `tenure`, the true `hazard` (the
churn probability of the next period at the customer's state, the rule the
customers follow — what only the `oracle` is told), then every column of
`sim.agents.state.COLUMNS` (`service_total` is the service money received,
`revenue_total` what the customer spent). The files
of a folder read as one table with `pandas.read_parquet(folder)`. The bytes
depend only on the scenario and the seed (not on workers or backend); each
file is written to a temporary name and renamed when complete.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.agents.state import ACTIVE, CHURNED, POTENTIAL, PUBLIC_COLUMNS
from sim.files import atomic_open

if TYPE_CHECKING:
    from sim.model import RetentionModel
    from sim.scenario import Scenario

#: Sub-folder of a results folder holding the per-customer files.
AGENTS_DIR = "agents"
#: What `--agents` can ask for: the final state, or also every period.
MODES = ("final", "every")
#: Columns before the state columns, in order (`period` only in the per-period files).
LEAD = ("replication", "policy", "period", "id", "segment", "status", "tenure", "hazard")
#: The state columns written after them (the segment and status are written by name in `LEAD`).
STATE = tuple(c for c in PUBLIC_COLUMNS if c not in ("segment", "status"))
#: Rows buffered before a row group of a per-period file is written.
GROUP_ROWS = 1 << 16
_STATUS = ("potential", "active", "churned")


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-")[:40] or "arm"


@dataclass(frozen=True)
class AgentsOutput:
    """Where and what per-customer data a run writes.

    Args:
        folder: The `agents/` folder of a results folder.
        every: Also write a row per customer per period.
    """

    folder: Path
    every: bool = False

    @classmethod
    def of(cls, out_dir: Path | str, mode: str | None) -> AgentsOutput | None:
        """The output for `--agents MODE` in `out_dir` (None: not asked).

        Raises:
            ValueError: If `mode` is not one of `MODES`.
        """
        if mode is None:
            return None
        if mode not in MODES:
            raise ValueError(f"--agents: expected one of {', '.join(MODES)}, found {mode!r}")
        return cls(Path(out_dir) / AGENTS_DIR, mode == "every")

    def path(self, kind: str, replication: int, arm: int, name: str) -> Path:
        """The file of one replication and arm: `kind` is "customers" or "periods"."""
        return self.folder / kind / f"rep-{replication:05d}-{arm:02d}-{_safe(name)}.parquet"

    def files(self, scenario: Scenario, replication: int) -> list[Path]:
        """Every file this output writes for one replication."""
        kinds = ("customers", "periods") if self.every else ("customers",)
        return [self.path(k, replication, i, p.name) for k in kinds for i, p in enumerate(scenario.policies)]

    def missing(self, scenario: Scenario, replications: Iterable[int]) -> set[int]:
        """The replications among `replications` some of whose files are not there."""
        return {r for r in replications if not all(p.is_file() for p in self.files(scenario, r))}

    def clean(self) -> None:
        """Remove the temporary files of writes that were cut short (workers stopped by Ctrl-C)."""
        for tmp in self.folder.glob("*/.*.tmp"):
            tmp.unlink(missing_ok=True)

    def play(self, model: RetentionModel, replication: int, arm: int) -> None:
        """Run `model` to its horizon, writing its customers (every period, if asked, and at the end)."""
        name = model.policy_name
        if self.every:
            with _PeriodWriter(self.path("periods", replication, arm, name)) as out:
                while model.period < model.horizon:
                    model.step()
                    t = model.period - 1
                    status = model.customers.status
                    lost = (status == CHURNED) & (model.customers.churned_at == t)
                    rows = np.flatnonzero((status == ACTIVE) | lost)
                    out.add(customer_table(model, rows, replication, period=t))
        else:
            model.run()
        rows = np.flatnonzero(model.customers.status != POTENTIAL)
        table = customer_table(model, rows, replication)
        _write(self.path("customers", replication, arm, name), [table], table.schema)


def customer_columns(model: RetentionModel, rows: np.ndarray) -> dict[str, np.ndarray]:
    """The customers at `rows` as the files hold them: `id` … every state column, by name."""
    pop = model.customers
    market = model.last_market
    if market is None:
        hazard = pop.hazard()
    else:
        hazard = pop.hazard(market.pull, market.switching_cover)
    status = pop.status[rows]
    churned = status == CHURNED
    end = np.where(churned, pop.churned_at[rows].astype(np.int32) + 1, model.period)
    out: dict[str, Any] = {"id": rows.astype(np.int64)}
    spec = model.scenario_spec.population
    if spec.customers is not None:  # the customer table's own ids (`sim.empirical`)
        from sim.empirical import customers_of

        table = customers_of(spec)
        assert table is not None
        out["table_id"] = np.asarray(table.ids + ("",) * (pop.n - len(table)), dtype=object)[rows]
    out |= {
        "segment": np.asarray(pop.segment_names, dtype=object)[pop.segment[rows]],
        "status": np.asarray(_STATUS, dtype=object)[status],
        "tenure": (end - pop.joined[rows].astype(np.int32)).astype(np.int32),
        "hazard": hazard[rows],
    }
    for name in STATE:
        out[name] = np.asarray(pop.column(name, rows))
    return out


def customer_table(model: RetentionModel, rows: np.ndarray, replication: int, period: int | None = None) -> Any:
    """A `pyarrow.Table` of the customers at `rows` (see the module's docstring for the columns)."""
    import pyarrow as pa

    n = rows.size
    lead: dict[str, Any] = {"replication": pa.array(np.full(n, replication, dtype=np.int32)),
                            "policy": pa.array([model.policy_name] * n, pa.string()).dictionary_encode()}
    if period is not None:
        lead["period"] = pa.array(np.full(n, period, dtype=np.int32))
    cols = customer_columns(model, rows)
    for name in ("segment", "status"):
        cols[name] = pa.array(cols[name].tolist(), pa.string()).dictionary_encode()
    if "table_id" in cols:
        cols["table_id"] = pa.array(cols["table_id"].tolist(), pa.string())
    return pa.table({**lead, **{k: (v if isinstance(v, pa.Array | pa.ChunkedArray) else pa.array(v))
                                for k, v in cols.items()}})


def _write(path: Path, tables: list[Any], schema: Any) -> None:
    import pyarrow.parquet as pq

    with atomic_open(path) as f, pq.ParquetWriter(f, schema, compression="zstd") as w:
        for t in tables:
            w.write_table(t)


class _PeriodWriter:
    """A per-period file written a row group at a time, renamed into place when complete."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.pending: list[Any] = []
        self.rows = 0
        self._file: Any = None
        self._writer: Any = None

    def __enter__(self) -> _PeriodWriter:
        self._open = atomic_open(self.path)
        self._file = self._open.__enter__()
        return self

    def add(self, table: Any) -> None:
        """Add one period's rows (written once `GROUP_ROWS` rows are waiting)."""
        self.pending.append(table)
        self.rows += table.num_rows
        if self.rows >= GROUP_ROWS:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not self.pending:
            return
        if self._writer is None:
            self._writer = pq.ParquetWriter(self._file, self.pending[0].schema, compression="zstd")
        self._writer.write_table(pa.concat_tables(self.pending))
        self.pending, self.rows = [], 0

    def __exit__(self, *exc: Any) -> None:
        try:
            if exc[0] is None:
                self._flush()
            if self._writer is not None:
                self._writer.close()
        finally:
            self._open.__exit__(*exc)
