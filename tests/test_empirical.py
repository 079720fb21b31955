"""Empirical inputs: an edge-list network and a customer table are read, checked and used."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from sim.agents.state import ACTIVE, POTENTIAL
from sim.agents_output import AgentsOutput
from sim.cli import app
from sim.experiment import run_replication
from sim.loader import ScenarioError, load_scenario, parse_text
from sim.model import RetentionModel

runner = CliRunner()
SEGMENTS = ("regulars", "big_accounts", "small_growers", "bargain_hunters")
N = 60  # rows of the table; every fifth a prospect

SCENARIO = """\
name: empirical
horizon: 10
replications: 1
seed: 3
population:
  customers: data/customers.csv
  network: {kind: edges, file: data/ties.csv}
policies:
  - {name: a, kind: churn_risk}
"""


def table_text() -> str:
    rows = ["id,segment,satisfaction,loyalty,spend,tenure,status,sociability"]
    for i in range(N):
        sat = f"{0.2 + 0.01 * i:.2f}" if i % 3 else ""
        loy = "0.9" if i % 7 == 0 else ""
        status = "potential" if i % 5 == 4 else "active"
        rows.append(f"C{i:03d},{SEGMENTS[i % 4]},{sat},{loy},{10 + i},{i},{status},{2.5 if i == 1 else ''}")
    return "\n".join(rows) + "\n"


def ties() -> list[tuple[int, int]]:
    """A ring with chords, as pairs of table rows in file order."""
    return [(i, (i + 1) % N) for i in range(N)] + [(i, (i + 7) % N) for i in range(0, N, 3)]


def ties_text(pairs: list[tuple[int, int]]) -> str:
    return "source,target\n" + "".join(f"C{a:03d},C{b:03d}\n" for a, b in pairs)


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "customers.csv").write_text(table_text(), encoding="utf-8")
    (tmp_path / "data" / "ties.csv").write_text(ties_text(ties()), encoding="utf-8")
    (tmp_path / "s.yaml").write_text(SCENARIO, encoding="utf-8")
    return tmp_path


def model_rows() -> dict[str, int]:
    """Table id → model row: active customers first, each group in the file's order."""
    ids = [f"C{i:03d}" for i in range(N)]
    active = [c for i, c in enumerate(ids) if i % 5 != 4]
    return {c: r for r, c in enumerate(active + [c for c in ids if c not in active])}


def test_the_table_sets_who_the_customers_are_and_their_state(files: Path) -> None:
    sc = load_scenario(files / "s.yaml")
    assert sc.population.size == 48 and sc.population.potential == pytest.approx(12 / 48)
    assert Path(sc.population.customers).is_absolute()  # resolved beside the scenario file
    pop = RetentionModel(sc, rng=1).customers
    assert pop.n == N
    rows = model_rows()
    for i in range(N):
        r = rows[f"C{i:03d}"]
        assert pop.segment_names[pop.segment[r]] == SEGMENTS[i % 4]
        assert pop.status[r] == (POTENTIAL if i % 5 == 4 else ACTIVE)
        assert pop.spend[r] == np.float32(10 + i)
        if i % 3:
            assert pop.satisfaction[r] == np.float32(0.2 + 0.01 * i)
        # Given; else the segment's (big accounts start at 0.7); else following a given satisfaction.
        loyalty = 0.9 if i % 7 == 0 else 0.7 if i % 4 == 1 else (0.2 + 0.01 * i if i % 3 else None)
        if loyalty is not None:
            assert pop.loyalty[r] == np.float32(loyalty)
        if pop.status[r] == ACTIVE:
            assert pop.joined[r] == -i and pop.monetary[r] == np.float32(10 + i)
            assert pop.last_purchase[r] >= pop.joined[r]
    assert pop.sociability[rows["C001"]] == np.float32(2.5)
    assert pop.sociability[rows["C002"]] == np.float32(1.0)  # the segment's
    assert (0 <= pop.satisfaction).all() and (pop.satisfaction <= 1).all()


def test_the_network_is_the_files_ties(files: Path) -> None:
    pop = RetentionModel(load_scenario(files / "s.yaml"), rng=1).customers
    nw, rows = pop.network, model_rows()
    assert nw.kind == "edges"
    got = {(min(i, int(j)), max(i, int(j)))
           for i in range(nw.n) for j in nw.indices[nw.indptr[i]:nw.indptr[i + 1]]}
    ends = [(rows[f"C{a:03d}"], rows[f"C{b:03d}"]) for a, b in ties()]
    want = {(min(a, b), max(a, b)) for a, b in ends}
    assert got == want and nw.indices.size == 2 * len(want)


def test_a_changed_tie_changes_the_run_and_the_same_files_do_not(files: Path) -> None:
    def series() -> np.ndarray:
        return RetentionModel(load_scenario(files / "s.yaml"), rng=5).run().timeseries().to_numpy()

    first = series()
    np.testing.assert_array_equal(series(), first)
    pairs = ties()
    pairs[0] = (0, 30)
    (files / "data" / "ties.csv").write_text(ties_text(pairs), encoding="utf-8")
    assert not np.array_equal(series(), first, equal_nan=True)


def test_the_customers_files_carry_the_tables_ids(files: Path) -> None:
    sc = load_scenario(files / "s.yaml")
    run_replication(sc, 0, 9, AgentsOutput(files / "agents"))
    df = pd.read_parquet(files / "agents" / "customers")
    rows = model_rows()
    assert (df.id == df.table_id.map(rows)).all() and len(df) >= 48
    assert df.set_index("table_id").loc["C001", "segment"] == SEGMENTS[1]


def test_numbered_ties_without_a_table(tmp_path: Path) -> None:
    (tmp_path / "ties.csv").write_text("source,target\n0,1\n1,2\n2,14\n", encoding="utf-8")
    text = SCENARIO.replace("  customers: data/customers.csv\n", "  size: 10\n")
    text = text.replace("data/ties.csv", "ties.csv")
    (tmp_path / "s.yaml").write_text(text, encoding="utf-8")
    nw = RetentionModel(load_scenario(tmp_path / "s.yaml"), rng=1).customers.network
    assert nw.n == 15 and list(nw.indices[nw.indptr[2]:nw.indptr[3]]) == [1, 14]
    (tmp_path / "ties.csv").write_text("source,target\n0,1\n1,15\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"ties.csv:3: target: expected a customer number from 0 to 14"):
        load_scenario(tmp_path / "s.yaml")


BAD = [
    ("customers.csv", "id,segment,colour\nC1,regulars,red\n", "data/customers.csv:1: colour: unknown column"),
    ("customers.csv", "segment\nregulars\n", "data/customers.csv:1: id: missing column"),
    ("customers.csv", table_text().replace("C002,small_growers,0.22", "C002,small_growers,high"),
     "data/customers.csv:4: satisfaction: expected a number, found 'high'"),
    ("customers.csv", table_text().replace("C002,small_growers,0.22", "C002,small_growers,1.5"),
     "data/customers.csv:4: satisfaction: expected a number from 0 to 1, found 1.5"),
    ("customers.csv", table_text().replace("C002,small_growers", "C002,whales"),
     "data/customers.csv:4: segment: expected a segment of the scenario"),
    ("customers.csv", table_text().replace("C003,", "C002,"),
     "data/customers.csv:5: id: id 'C002' is given twice"),
    ("customers.csv", table_text().replace(",potential,", ",lapsed,", 1),
     "data/customers.csv:6: status: expected active or potential, found 'lapsed'"),
    ("ties.csv", "source,target\nC000,C001\nC001,X9\n",
     "data/ties.csv:3: target: id 'X9' is not in the customer table"),
    ("ties.csv", "source,target\nC000,C001\nC003,C003\n",
     "data/ties.csv:3: target: a tie from customer 'C003' to"),
    ("ties.csv", "source,target\nC000,C001\nC001,C000\n",
     "data/ties.csv:3: target: the tie C001–C000 is given twice (first on line 2)"),
    ("ties.csv", "from,to\nC000,C001\n", "data/ties.csv:1: from: unknown column"),
]


@pytest.mark.parametrize(("name", "text", "message"), BAD, ids=[b[2].split(": ", 2)[-1][:30] for b in BAD])
def test_a_bad_file_is_named_with_its_line_and_column(files: Path, name: str, text: str, message: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(files)
    (files / "data" / name).write_text(text, encoding="utf-8")
    res = runner.invoke(app, ["validate", "s.yaml"])
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert message in res.output, res.output


def test_errors_through_run_and_in_the_scenario_file(files: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(files)
    (files / "data" / "ties.csv").unlink()
    res = runner.invoke(app, ["run", "s.yaml", "--workers", "1"])
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert "s.yaml:7: population.network.file: no such file" in res.output
    (files / "data" / "ties.csv").write_text(ties_text(ties()), encoding="utf-8")
    sized = SCENARIO.replace("population:\n", "population:\n  size: 50\n")
    (files / "s.yaml").write_text(sized, encoding="utf-8")
    res = runner.invoke(app, ["validate", "s.yaml"])
    assert res.exit_code == 2
    assert "s.yaml:6: population.size: expected 48 (the active customers of data/customers.csv)" in res.output
    with pytest.raises(ScenarioError, match="expected a `file` with `kind: edges`"):
        parse_text(SCENARIO.replace(", file: data/ties.csv", ""), "x.yaml")
