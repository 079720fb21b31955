"""`retention-lab viz SCENARIO`: Mesa's SolaraViz page of the model, served offline.

The page steps one `RetentionModel` in the browser: Step, Play/Pause and Reset
(Mesa's controls), sliders for the number of customers, the competitors' pull
and the budget, a choice of the arm (policy) to play, the metrics' curves, a
view of the customers (satisfaction against loyalty, and who is left in each
segment) and a view of the social network around a few customers (who is
active, how satisfied, who has left). A changed control takes effect at Reset, which builds the model anew
with the same seed.

Charts are drawn with matplotlib on the server (Mesa's matplotlib backend), so
the page needs no CDN; Solara's own front end comes from the `solara-assets`
package. Each browser session builds its own model (`Page`). Solara finds the
page as `sim.viz:Page`; `serve` runs it under uvicorn, as Solara documents for
deployment. docs/viz.md says how to use it.
"""

from __future__ import annotations

import json
import os
import warnings
import weakref
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import solara
from matplotlib.figure import Figure
from mesa.visualization import SolaraViz, make_plot_component

from sim.loader import load_scenario
from sim.model import RetentionModel
from sim.rng import SeedLike
from sim.scenario import Scenario

#: The environment variable through which `serve` tells the page what to show (JSON of `Settings`).
SETTINGS_ENV = "RETENTION_LAB_VIZ"
#: At most this many customers are drawn in the scatter (every k-th active customer).
SCATTER_POINTS = 2000
#: The network view shows the ties among at most this many people, reached from a few customers.
NETWORK_NODES = 150
#: ... from this many customers at period 0, drawn with a fixed seed (the same people at every step).
NETWORK_SEEDS = 4


@dataclass(frozen=True)
class Settings:
    """What the page shows: a scenario (file or built-in name), the arm shown first, the seed."""

    source: str = "quickstart"
    policy: str | None = None
    seed: int = 0

    @classmethod
    def from_environment(cls) -> Settings:
        """The settings `serve` left in the environment (the defaults without it)."""
        text = os.environ.get(SETTINGS_ENV)
        return cls(**json.loads(text)) if text else cls()


def adjusted(source: str | Scenario, size: int | None = None, competitor_pull: float | None = None,
             budget: float | None = None) -> Scenario:
    """The scenario with the page's controls applied (None: the scenario's own value)."""
    sc = source if isinstance(source, Scenario) else load_scenario(source)
    population = {"size": size} if size is not None else {}
    market = {k: v for k, v in (("competitor_pull", competitor_pull), ("budget", budget)) if v is not None}
    return sc.model_copy(update={
        "population": sc.population.model_copy(update=population),
        "market": sc.market.model_copy(update=market),
    })


class ViewedModel(RetentionModel):
    """`RetentionModel` whose scenario's main settings are keyword arguments: SolaraViz's controls.

    Args:
        source: A scenario file or built-in name.
        policy: The arm to play; default the scenario's first.
        size: Customers at period 0 (`population.size`).
        competitor_pull: `market.competitor_pull`.
        budget: `market.budget` (per customer at period 0, per period).
        rng: Seed.
        scenario: Mesa's own scenario, which SolaraViz's Reset passes (see `RetentionModel`).
    """

    def __init__(self, source: str = "quickstart", policy: str | None = None, size: int | None = None,
                 competitor_pull: float | None = None, budget: float | None = None, rng: SeedLike = None,
                 scenario: Any = None) -> None:
        super().__init__(adjusted(source, size, competitor_pull, budget), policy=policy, rng=rng,
                         scenario=scenario)


def model_params(sc: Scenario, settings: Settings) -> dict[str, Any]:
    """SolaraViz's `model_params`: fixed values and the controls, starting at the scenario's values."""
    size, pull, budget = sc.population.size, sc.market.competitor_pull, sc.market.budget
    arms = [p.name for p in sc.policies]
    return {
        "source": settings.source,
        "rng": settings.seed,
        "policy": {"type": "Select", "label": "Policy (arm)", "value": settings.policy or arms[0],
                   "values": arms},
        "size": {"type": "SliderInt", "label": "Customers at period 0", "value": size, "min": 100,
                 "max": max(20_000, size), "step": 100},
        "competitor_pull": {"type": "SliderFloat", "label": "Competitors' pull", "value": pull, "min": 0.0,
                            "max": max(1.0, pull), "step": 0.05},
        "budget": {"type": "SliderFloat", "label": "Budget per customer and period", "value": budget,
                   "min": 0.0, "max": max(5.0, budget), "step": 0.1},
    }


def period_view(model: RetentionModel) -> Any:
    """Where the run is: period, arm, customers, churn and profit so far."""
    m = model.metrics
    profit = float(model.timeseries()["profit"].sum()) if model.period else 0.0
    lines = [f"## Period {model.period} of {model.horizon}",
             f"Scenario **{model.scenario_spec.name}**, policy **{model.policy_name}**.",
             f"Active customers: {int(model.customers.active.sum()):,}"]
    if m:
        lines.append(f"Churn so far: {100 * m['churn_rate']:.1f} %; profit so far: {profit:,.0f}")
    return solara.Markdown("\n\n".join(lines))


def customers_figure(model: RetentionModel) -> Figure:
    """Satisfaction against loyalty of active customers (by segment), and the active and lost per segment."""
    pop = model.customers
    active = np.flatnonzero(pop.active)
    shown = active[:: max(1, -(-active.size // SCATTER_POINTS))]  # every k-th, at most SCATTER_POINTS
    fig = Figure(figsize=(7.5, 3.4))
    scatter, bars = fig.subplots(1, 2, gridspec_kw={"width_ratios": (3, 2)})
    names = pop.segment_names
    for k, name in enumerate(names):
        rows = shown[pop.segment[shown] == k]
        scatter.scatter(pop.satisfaction[rows], pop.loyalty[rows], s=4, alpha=0.5, label=name)
    scatter.set(xlim=(0, 1), ylim=(0, 1), xlabel="satisfaction", ylabel="loyalty",
                title=f"Active customers ({shown.size:,} shown)")
    scatter.legend(loc="upper left", fontsize="x-small", markerscale=3)
    status = pop.status
    kept = np.bincount(pop.segment[status == 1], minlength=len(names))
    lost = np.bincount(pop.segment[status == 2], minlength=len(names))
    at = np.arange(len(names))
    bars.barh(at, kept, label="active")
    bars.barh(at, lost, left=kept, label="churned")
    bars.set_yticks(at, names, fontsize="small")
    bars.set(title="Customers by segment")
    bars.legend(loc="lower right", fontsize="x-small")
    fig.tight_layout()
    return fig


def customer_view(model: RetentionModel) -> Any:
    """The customers, redrawn at every step."""
    return solara.Column([solara.FigureMatplotlib(customers_figure(model), format="png")],
                         classes=["retention-customers"])


@dataclass(frozen=True)
class NetworkSample:
    """People of the network around a few customers, their ties among themselves, and where to draw them.

    Attributes:
        nodes: Their ids (rows of the population's columns).
        edges: Pairs of positions in `nodes` (each tie once).
        xy: Each one's position (a spring layout with a fixed seed).
    """

    nodes: np.ndarray
    edges: np.ndarray
    xy: np.ndarray


def network_sample(model: RetentionModel, size: int = NETWORK_NODES,
                   seeds: int = NETWORK_SEEDS) -> NetworkSample:
    """The network's people reached, breadth first, from `seeds` customers at period 0 (at most `size`).

    The network does not change as the model steps, so neither does the sample:
    the view shows the same people at every step. Without ties (`kind: none` or
    `complete`, which is everyone's neighbour), the people are the first `size`
    customers, drawn on a grid without ties.
    """
    import networkx as nx

    pop = model.customers
    net = pop.network
    if net.kind in ("none", "complete"):
        nodes = np.arange(min(size, pop.n))
        side = int(np.ceil(np.sqrt(nodes.size)))
        xy = np.column_stack([nodes % side, nodes // side]).astype(float)
        return NetworkSample(nodes, np.empty((0, 2), dtype=np.int64), xy)
    rng = np.random.default_rng(0)
    chosen = list(rng.choice(pop.initial_size, min(seeds, pop.initial_size), replace=False))
    seen, frontier = set(chosen), list(chosen)
    while frontier and len(chosen) < size:
        ahead = []
        for i in frontier:
            for j in net.indices[net.indptr[i]:net.indptr[i + 1]].tolist():
                if j not in seen and len(chosen) < size:
                    seen.add(j)
                    chosen.append(j)
                    ahead.append(j)
        frontier = ahead
    nodes = np.array(chosen)
    at = {int(v): k for k, v in enumerate(nodes)}
    edges = sorted({(min(a, at[j]), max(a, at[j])) for a, i in enumerate(nodes)
                    for j in net.indices[net.indptr[i]:net.indptr[i + 1]].tolist() if j in at and at[j] != a})
    graph = nx.Graph()
    graph.add_nodes_from(range(nodes.size))
    graph.add_edges_from(edges)
    layout = nx.spring_layout(graph, seed=1)
    xy = np.array([layout[k] for k in range(nodes.size)])
    return NetworkSample(nodes, np.array(edges, dtype=np.int64).reshape(-1, 2), xy)


_samples: weakref.WeakKeyDictionary[RetentionModel, NetworkSample] = weakref.WeakKeyDictionary()


def network_figure(model: RetentionModel) -> Figure:
    """The sampled people: active customers coloured by satisfaction, churned ones red, prospects grey."""
    from matplotlib.collections import LineCollection

    sample = _samples.get(model)
    if sample is None:
        sample = _samples[model] = network_sample(model)
    pop = model.customers
    status = pop.status[sample.nodes]
    xy = sample.xy
    fig = Figure(figsize=(7.5, 3.6))
    ax = fig.subplots()
    if sample.edges.size:
        ax.add_collection(LineCollection(xy[sample.edges], colors="0.75", linewidths=0.5, zorder=1))
    prospect, active, churned = status == 0, status == 1, status == 2
    ax.scatter(*xy[prospect].T, s=14, facecolors="none", edgecolors="0.6", label="prospect", zorder=2)
    dots = ax.scatter(*xy[active].T, s=22, c=pop.satisfaction[sample.nodes[active]], cmap="viridis",
                      vmin=0, vmax=1, label="active", zorder=3)
    ax.scatter(*xy[churned].T, s=30, marker="x", color="tab:red", label="churned", zorder=4)
    fig.colorbar(dots, ax=ax, label="satisfaction", shrink=0.8)
    ax.set_title(f"Social network around {NETWORK_SEEDS} customers: {int(active.sum())} active, "
                 f"{int(churned.sum())} churned, {int(prospect.sum())} prospects", fontsize=9)
    ax.legend(loc="upper left", fontsize="x-small", markerscale=1.2)
    ax.set_axis_off()
    ax.autoscale_view()
    fig.tight_layout()
    return fig


def network_view(model: RetentionModel) -> Any:
    """The network around a few customers, redrawn at every step."""
    return solara.Column([solara.FigureMatplotlib(network_figure(model), format="png")],
                         classes=["retention-network"])


def components() -> list[Any]:
    """The page's components: where the run is, the metrics' curves, the customers, the network."""
    return [
        period_view,
        make_plot_component({"satisfaction": "tab:blue", "loyalty": "tab:orange"}),
        make_plot_component({"churn_rate": "tab:red"}),
        make_plot_component({"revenue": "tab:gray", "profit": "tab:green"}),
        make_plot_component({"active_customers": "tab:purple"}),
        customer_view,
        network_view,
    ]


@solara.component
def Page() -> None:
    """The page of one browser session, with its own model (never shared between sessions)."""
    settings = Settings.from_environment()
    sc = solara.use_memo(lambda: load_scenario(settings.source), [])
    params = solara.use_memo(lambda: model_params(sc, settings), [])
    model = solara.use_memo(lambda: ViewedModel(source=settings.source, policy=params["policy"]["value"],
                                                rng=settings.seed), [])
    SolaraViz(model, components=components(), model_params=params, name=f"Retention Lab: {sc.name}",
              play_interval=150)


def serve(settings: Settings, host: str, port: int) -> None:
    """Serve the page with uvicorn until Ctrl-C (offline: no telemetry, no version check, production mode).

    Returns when the server has stopped (uvicorn shuts down gracefully on Ctrl-C).
    """
    import uvicorn
    from solara.server import settings as solara_settings

    # Solara warns on every page load over plain http that it falls back to SameSite=Lax cookies: as it should.
    warnings.filterwarnings("ignore", message="Cookies with samesite=none require https")
    os.environ[SETTINGS_ENV] = json.dumps(asdict(settings))
    os.environ["SOLARA_APP"] = "sim.viz:Page"
    solara_settings.telemetry.mixpanel_enable = False
    solara_settings.main.mode = "production"
    uvicorn.run("solara.server.starlette:app", host=host, port=port, log_level="warning")
