"""`retention-lab workshop ...`: serve the training exercise.

`app` is a `typer.Typer`; the main command line mounts it as `workshop`.
It can also be run alone: ``python -m sim.workshop.cli serve --scenario default``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

DEFAULT_DB = Path("workshop.sqlite")
app = typer.Typer(help="The bias-awareness workshop: a web app trainees play in a browser.",
                  no_args_is_help=True)


@app.callback()
def _workshop() -> None:
    """The bias-awareness workshop."""


@app.command()
def serve(
    scenario: Annotated[str, typer.Option(
        "--scenario", "-s", help="Built-in scenario name or scenario file.")] = "default",
    rounds: Annotated[int, typer.Option(
        "--rounds", "-r", min=1, max=12, help="Rounds (quarters) each trainee plays.")] = 4,
    port: Annotated[int, typer.Option(
        "--port", "-p", min=1, max=65535, help="Port to listen on.")] = 8000,
    host: Annotated[str, typer.Option(
        "--host", help="Address to listen on (0.0.0.0 to let a class join).")] = "127.0.0.1",
    db: Annotated[Path, typer.Option(
        "--db", help="SQLite file holding the workshop (kept across restarts).")] = DEFAULT_DB,
    public_url: Annotated[str, typer.Option(
        "--public-url", help="Base URL to print in links (default http://HOST:PORT).")] = "",
    paced: Annotated[bool, typer.Option(
        "--paced", help="Trainees play only the rounds the facilitator opens.")] = False,
    round_minutes: Annotated[float, typer.Option(
        "--round-minutes", min=0, max=180,
        help="Countdown of each opened round (with --paced; 0 = none).")] = 0,
    seed: Annotated[int | None, typer.Option(
        "--seed", help="Market seed (default: a new market for each new workshop).")] = None,
    language: Annotated[str | None, typer.Option(
        "--language", "-l", help="Language of the workshop's pages: en or zh_CN (each trainee can "
        "switch on their pages; default en, or the resumed workshop's).")] = None,
) -> None:
    """Start the workshop server and print the facilitator and join links.

    Restarted on the same database with the same scenario and rounds, it resumes
    the same workshop (unless it was closed): the links stay valid and every
    trainee continues. `--paced`, `--round-minutes` and `--seed` apply to a new
    workshop only; `--language` also changes the language of a resumed one.
    """
    import uvicorn

    from sim.i18n import DEFAULT_LANGUAGE, LANGUAGES
    from sim.loader import ScenarioError
    from sim.workshop.app import create_app
    from sim.workshop.engine import WorkshopEngine

    if language is not None and language.replace("-", "_") not in LANGUAGES:
        typer.echo(f"--language: one of {', '.join(LANGUAGES)}, got {language!r}", err=True)
        raise typer.Exit(2)
    engine = WorkshopEngine(db)
    try:
        ws = engine.find_or_create(scenario, rounds, seed=seed, paced=paced,
                                   round_seconds=round(60 * round_minutes),
                                   language=(language or DEFAULT_LANGUAGE).replace("-", "_"))
        if language is not None and ws.language != language.replace("-", "_"):
            ws = engine.set_language(ws.id, language.replace("-", "_"))
    except (ScenarioError, ValueError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    shown = "localhost" if host in ("127.0.0.1", "0.0.0.0") else host
    base = public_url.rstrip("/") or f"http://{shown}:{port}"
    web = create_app(engine=engine, public_url=base)
    token = web.state.token
    _warm_up()
    typer.echo(f"Workshop '{ws.title}' ({ws.scenario_name}, {ws.rounds} rounds, language {ws.language})"
               f" — database {db}")
    typer.echo(f"Facilitator link (keep it private): {base}/facilitator/w/{ws.id}?token={token}")
    typer.echo(f"Join link for trainees:             {base}/join/{ws.id}")
    typer.echo("Press Ctrl-C to stop; restarting on the same --db loses nothing.", err=False)
    uvicorn.run(web, host=host, port=port, log_level="warning")


def _warm_up() -> None:
    """Compile the simulation's kernels now (a small market, two periods), before anyone joins.

    On a fresh install or after an upgrade the kernels compile on first use; done
    here, the first trainee's join does not wait for it.
    """
    from sim.loader import load_scenario
    from sim.model import RetentionModel

    sc = load_scenario("default")
    sc = sc.model_copy(update={"population": sc.population.model_copy(update={"size": 200}),
                               "horizon": 2})
    RetentionModel(sc, rng=0).run()


if __name__ == "__main__":  # pragma: no cover
    app()
