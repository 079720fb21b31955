"""`retention-lab viz`: Mesa's SolaraViz page of the model; Reset works (no clash over `scenario`).

Mesa 3.5's `Model` has a `scenario` of its own, and SolaraViz's Reset rebuilds
the model with `scenario=` one of Mesa's scenarios: `RetentionModel` took it for
its own and crashed. The model-level tests drive Mesa's own reset plumbing; the
browser test starts the real command and presses Step, Play/Pause and Reset in
Chromium (screenshots in `test-artifacts/viz/`), and watches the customers' and
the network's views redraw.
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from mesa.experimental.scenarios import Scenario as MesaScenario
from mesa.visualization.solara_viz import _build_model_init_kwargs, _check_model_params
from test_workshop_browser import browser_type_launch_args, free_port  # noqa: F401 - a fixture

from sim.model import RetentionModel
from sim.viz import (
    NETWORK_NODES,
    Settings,
    ViewedModel,
    adjusted,
    customers_figure,
    model_params,
    network_figure,
    network_sample,
)

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts" / "viz"


def reset(model: RetentionModel, parameters: dict) -> RetentionModel:
    """What SolaraViz's Reset button does (mesa.visualization.solara_viz.ModelController.do_reset)."""
    kwargs = _build_model_init_kwargs(model, parameters, add_scenario_when_empty=True,
                                      require_model_accepts_scenario=True)
    assert isinstance(kwargs["scenario"], MesaScenario)  # Mesa's own, passed as `scenario=`
    return type(model)(**kwargs)


def test_reset_rebuilds_the_model_through_mesas_plumbing() -> None:
    model = RetentionModel("quickstart", policy="data_driven", rng=4)
    model.run(3)
    again = reset(model, {"spec": "quickstart", "policy": "data_driven", "rng": 4})
    assert again.period == 0 and again.scenario_spec.name == "quickstart"
    assert again.run(3).timeseries().equals(model.timeseries())  # the same seed: the same run
    assert again.scenario.model is again and again.scenario.rng is again.rng  # Mesa's scenario, our generator


def test_the_scenario_keyword_still_works_and_is_ours() -> None:
    by_position = RetentionModel("quickstart", rng=5).run(2).timeseries()
    by_keyword = RetentionModel(scenario="quickstart", rng=5).run(2).timeseries()
    assert by_keyword.equals(by_position)
    with pytest.raises(TypeError, match="twice"):
        RetentionModel("quickstart", scenario="quickstart")
    with pytest.raises(TypeError, match="needs a scenario"):
        RetentionModel()
    with pytest.raises(ValueError, match="must be the same"):
        RetentionModel("quickstart", rng=1, scenario=MesaScenario(rng=2))


def test_the_page_controls_reach_the_model_at_reset() -> None:
    sc = adjusted("quickstart")
    params = model_params(sc, Settings(source="quickstart", seed=3))
    model = ViewedModel(source="quickstart", rng=3)
    _check_model_params(model, params)  # what SolaraViz checks when the page opens
    values = {k: v["value"] if isinstance(v, dict) else v for k, v in params.items()}
    assert values["size"] == sc.population.size and values["policy"] == sc.policies[0].name
    changed = reset(model, {**values, "size": 700, "competitor_pull": 0.5, "budget": 2.0,
                            "policy": "likes_some_customers"})
    assert changed.customers.initial_size == 700
    assert changed.scenario_spec.market.competitor_pull == 0.5 and changed.scenario_spec.market.budget == 2.0
    assert changed.policy_name == "likes_some_customers"
    changed.step()
    fig = customers_figure(changed)
    assert len(fig.axes) == 2 and fig.axes[0].collections  # the scatter is drawn


def test_the_network_view_shows_the_same_people_as_the_model_steps() -> None:
    model = ViewedModel(source="quickstart", size=600, rng=2)
    sample = network_sample(model)
    net = model.customers.network
    assert sample.nodes.size == NETWORK_NODES == len(set(sample.nodes.tolist()))
    assert len(sample.edges) >= sample.nodes.size - 1  # reached tie by tie: connected
    for a, b in sample.edges[:50]:  # every tie drawn is a tie of the model's network
        i, j = sample.nodes[a], sample.nodes[b]
        assert j in net.indices[net.indptr[i]:net.indptr[i + 1]]
    first = network_figure(model)
    dots = first.axes[0].collections  # ties, prospects, active (by satisfaction), churned
    assert len(dots[0].get_segments()) == len(sample.edges)
    assert sum(len(c.get_offsets()) for c in dots[1:]) == sample.nodes.size
    active = model.customers.status[sample.nodes] == 1
    assert list(dots[2].get_array()) == list(model.customers.satisfaction[sample.nodes[active]])
    model.run(12)
    later = network_figure(model).axes[0]
    assert later.collections[0].get_segments()[0].tolist() == dots[0].get_segments()[0].tolist()  # same layout
    assert len(later.collections[3].get_offsets()) > len(dots[3].get_offsets())  # some have churned
    assert later.get_title() != first.axes[0].get_title()


def test_the_network_view_without_ties() -> None:
    sc = adjusted("quickstart", size=300)
    sc = sc.model_copy(update={"population": sc.population.model_copy(
        update={"network": sc.population.network.model_copy(update={"kind": "none"})})})
    model = RetentionModel(sc, rng=1)
    sample = network_sample(model)
    assert sample.edges.size == 0 and sample.nodes.size == NETWORK_NODES
    assert len(network_figure(model).axes[0].collections) == 3  # no ties drawn


def test_viz_refuses_an_unknown_arm() -> None:
    out = subprocess.run([sys.executable, "-m", "sim", "viz", "quickstart", "--policy", "nobody"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "likes_some_customers" in out.stderr


# --------------------------------------------------------------------------- in Chromium


@pytest.fixture(scope="module")
def viz_url():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "sim", "viz", "quickstart", "--port", str(port)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    first = proc.stdout.readline()
    assert f"http://localhost:{port}/" in first, first
    url = f"http://127.0.0.1:{port}/"
    for _ in range(300):
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    yield url
    proc.terminate()
    log = proc.communicate(timeout=20)[0]
    assert "Traceback" not in log, log


def period(page) -> int:
    text = page.get_by_role("heading", name=re.compile(r"^Period \d+ of 52$")).inner_text()
    return int(text.split()[1])


def wait_for_period(page, test, timeout: float = 30.0) -> int:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            n = period(page)
            if test(n):
                return n
        except Exception:  # the heading is being redrawn
            pass
        page.wait_for_timeout(100)
    raise AssertionError(f"period never satisfied the test (last: {period(page)})")


def charts(page) -> list[str]:
    return [img.get_attribute("src") or "" for img in page.locator("img").all()]


IMAGE_BYTES = """async img => {
    await img.decode();
    const bytes = new Uint8Array(await (await fetch(img.src)).arrayBuffer());
    let text = "";
    for (const b of bytes) text += String.fromCharCode(b);
    return [img.naturalWidth, btoa(text)];
}"""


def picture(page, view: str) -> bytes:
    """A view's picture (PNG bytes; the page shows it from a blob URL), checked to be one."""
    img = page.locator(f".retention-{view} img")
    img.wait_for()
    width, data = img.evaluate(IMAGE_BYTES)
    png = base64.b64decode(data)
    assert png.startswith(b"\x89PNG") and len(png) > 5000 and width > 300, (width, png[:20])
    box = img.bounding_box()
    assert box and box["width"] > 300 and box["height"] > 100, box
    return png


def no_error(page) -> None:
    body = page.locator("body").inner_text()
    assert "error in" not in body.lower() and "Traceback" not in body, body[-2000:]


@pytest.mark.browser
def test_step_play_pause_and_reset_in_chromium(viz_url, page) -> None:
    page.set_default_timeout(60_000)
    page.goto(viz_url)
    page.get_by_role("heading", name="Period 0 of 52").wait_for()
    page.get_by_role("button", name="Step").wait_for()
    assert "Retention Lab: quickstart" in page.locator("body").inner_text()
    page.wait_for_timeout(500)
    before = charts(page)
    assert len(before) >= 6  # four curves, the customers and the network
    opened = {view: picture(page, view) for view in ("customers", "network")}
    page.screenshot(path=str(ARTIFACTS / "0-opened.png"), full_page=True)

    page.get_by_role("button", name="Step").click()
    wait_for_period(page, lambda n: n == 1)
    page.wait_for_timeout(500)
    after = charts(page)
    assert after != before  # the charts were redrawn
    assert picture(page, "customers") != opened["customers"]  # satisfaction and loyalty move every period
    assert picture(page, "network") != opened["network"]  # so do the network's customers'
    no_error(page)

    page.get_by_role("button", name="▶").click()
    wait_for_period(page, lambda n: n >= 4)
    page.get_by_role("button", name="❚❚").click()
    page.get_by_role("button", name="▶").wait_for()
    # A step already under way when Pause was pressed finishes and is drawn, and drawing the
    # charts can take seconds on a loaded machine (a step appeared 1-4 s after a one-second hold
    # once). Paused, the period stops: within a minute it holds still for five seconds running,
    # where playing steps every 0.15 s.
    paused, still, end = period(page), 0, time.monotonic() + 60
    while still < 5 and time.monotonic() < end:
        page.wait_for_timeout(1000)
        now = period(page)
        still = still + 1 if now == paused else 0
        paused = now
    assert still >= 5, paused  # paused: no more steps
    page.screenshot(path=str(ARTIFACTS / "1-paused.png"), full_page=True)
    no_error(page)

    page.get_by_role("button", name="Reset").click()
    wait_for_period(page, lambda n: n == 0)
    no_error(page)
    end = time.monotonic() + 30
    while picture(page, "network") != opened["network"] and time.monotonic() < end:
        page.wait_for_timeout(200)
    # The same seed: the same customers and the same people of the network, as they were at period 0.
    assert {view: picture(page, view) for view in ("customers", "network")} == opened
    page.get_by_role("button", name="Step").click()
    wait_for_period(page, lambda n: n == 1)
    assert "Time: 1.0" in page.locator("body").inner_text()  # Mesa's own counter agrees
    page.wait_for_timeout(500)
    no_error(page)
    page.screenshot(path=str(ARTIFACTS / "2-reset-then-step.png"), full_page=True)
    page.locator(".retention-network img").screenshot(path=str(ARTIFACTS / "3-network.png"))
