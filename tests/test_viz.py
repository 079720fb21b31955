"""`retention-lab viz`: Mesa's SolaraViz page of the model; Reset works (no clash over `scenario`).

Mesa 3.5's `Model` has a `scenario` of its own, and SolaraViz's Reset rebuilds
the model with `scenario=` one of Mesa's scenarios: `RetentionModel` took it for
its own and crashed. The model-level tests drive Mesa's own reset plumbing; the
browser test starts the real command and presses Step, Play/Pause and Reset in
Chromium (screenshots in `test-artifacts/viz/`).
"""

from __future__ import annotations

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
from sim.viz import Settings, ViewedModel, adjusted, customers_figure, model_params

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
    assert len(before) >= 5  # four curves and the customers
    page.screenshot(path=str(ARTIFACTS / "0-opened.png"), full_page=True)

    page.get_by_role("button", name="Step").click()
    wait_for_period(page, lambda n: n == 1)
    page.wait_for_timeout(500)
    assert charts(page) != before  # the charts were redrawn
    no_error(page)

    page.get_by_role("button", name="▶").click()
    wait_for_period(page, lambda n: n >= 4)
    page.get_by_role("button", name="❚❚").click()
    page.get_by_role("button", name="▶").wait_for()
    paused = period(page)
    page.wait_for_timeout(1000)
    assert period(page) == paused  # paused: no more steps
    page.screenshot(path=str(ARTIFACTS / "1-paused.png"), full_page=True)
    no_error(page)

    page.get_by_role("button", name="Reset").click()
    wait_for_period(page, lambda n: n == 0)
    no_error(page)
    page.get_by_role("button", name="Step").click()
    wait_for_period(page, lambda n: n == 1)
    assert "Time: 1.0" in page.locator("body").inner_text()  # Mesa's own counter agrees
    page.wait_for_timeout(500)
    no_error(page)
    page.screenshot(path=str(ARTIFACTS / "2-reset-then-step.png"), full_page=True)
