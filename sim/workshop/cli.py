"""`retention-lab workshop ...`: serve the training exercise.

`app` is a `typer.Typer`; the main command line mounts it as `workshop`.
It can also be run alone: ``python -m sim.workshop.cli serve --scenario default``.
"""

from __future__ import annotations

import errno
import socket
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
        "--public-url", help="Base URL to print in links (default: this computer's address on "
        "the network with --host 0.0.0.0, else http://HOST:PORT).")] = "",
    paced: Annotated[bool, typer.Option(
        "--paced", help="Trainees play only the rounds the facilitator opens.")] = False,
    round_minutes: Annotated[float, typer.Option(
        "--round-minutes", min=0, max=180,
        help="Countdown of each opened round (with --paced; 0 = none).")] = 0,
    second_rounds: Annotated[int, typer.Option(
        "--second-rounds", min=0, max=12,
        help="Rounds of the second, shorter game each trainee plays after the debrief, on a fresh "
        "market (0 = none).")] = 2,
    seed: Annotated[int | None, typer.Option(
        "--seed", help="Market seed (default: a new market for each new workshop).")] = None,
    language: Annotated[str | None, typer.Option(
        "--language", "-l", help="Language of the workshop's pages: en or zh_CN (each trainee can "
        "switch on their pages; default en, or the resumed workshop's).")] = None,
) -> None:
    """Start the workshop server and print the facilitator and join links.

    Restarted on the same database with the same scenario and rounds, it resumes
    the same workshop (unless it was closed): the links stay valid and every
    trainee continues. `--paced`, `--round-minutes`, `--second-rounds` and `--seed` apply to a new
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
    try:
        sock = listening_socket(host, port)
    except PortError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    engine = WorkshopEngine(db)
    try:
        ws = engine.find_or_create(scenario, rounds, seed=seed, paced=paced,
                                   round_seconds=round(60 * round_minutes), second_rounds=second_rounds,
                                   language=(language or DEFAULT_LANGUAGE).replace("-", "_"))
        if language is not None and ws.language != language.replace("-", "_"):
            ws = engine.set_language(ws.id, language.replace("-", "_"))
    except (ScenarioError, ValueError) as exc:
        sock.close()
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    addresses = reachable_addresses(host)
    base = public_url.rstrip("/") or f"http://{url_host(addresses[0])}:{port}"
    web = create_app(engine=engine, public_url=base)
    keys = engine.keys(ws.id)
    _warm_up()
    typer.echo(f"Workshop '{ws.title}' ({ws.scenario_name}, {ws.rounds} rounds, language {ws.language})"
               f" — database {db}")
    typer.echo(f"Facilitator link (keep it private): {base}/facilitator/w/{ws.id}?token={keys['token']}")
    typer.echo(f"All workshops (keep it private):    {base}/facilitator?token={web.state.token}")
    typer.echo(f"Projector view (no token):          {base}/projector/{keys['view_key']}")
    typer.echo(f"Join link for trainees:             {base}/join/{ws.id}")
    typer.echo(f"  or open {base}/join and type the code {ws.join_code}")
    if not public_url and len(addresses) > 1:
        others = ", ".join(f"http://{url_host(a)}:{port}" for a in addresses[1:])
        typer.echo(f"  (this computer is also reachable at {others})")
    typer.echo("Press Ctrl-C to stop; restarting on the same --db loses nothing.", err=False)
    server = uvicorn.Server(uvicorn.Config(web, log_level="warning"))
    server.run(sockets=[sock])


class PortError(OSError):
    """The server cannot listen where it was asked to (the message says why, in plain words)."""


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to `host`:`port`, before any link is printed.

    Raises:
        PortError: The port is taken, not allowed, or `host` is no address of this computer.
    """
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except socket.gaierror:
        raise PortError(f"--host {host}: not an address of this computer") from None
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortError(f"port {port} is in use: choose another with --port") from None
        if exc.errno == errno.EACCES:
            raise PortError(f"port {port} needs administrator rights: choose one above 1023 "
                            "with --port") from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise PortError(f"--host {host}: not an address of this computer") from None
        raise PortError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


#: Addresses routed to but never sent to: connecting a UDP socket only picks the outgoing interface.
PROBES = ("8.8.8.8", "10.254.254.254", "192.168.254.254", "172.31.254.254")


def reachable_addresses(host: str) -> list[str]:
    """The addresses other computers can reach this server at, best first (never empty).

    For a server listening on every interface (``0.0.0.0``, ``::``, ``""``):
    the address of the interface outgoing traffic would leave from (found
    offline: a UDP socket's connect sends nothing), then the other
    interfaces' addresses, else the computer's name. A server on the loopback
    gives ``localhost``; any other host is itself.
    """
    if host in ("127.0.0.1", "::1", "localhost"):
        return ["localhost"]
    if host not in ("0.0.0.0", "::", ""):
        return [host]
    found: list[str] = []
    for probe in PROBES:
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.connect((probe, 9))
                found.append(s.getsockname()[0])
                break
        except OSError:
            continue
    found += interface_addresses()
    try:
        found += [i[4][0] for i in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)]
    except OSError:
        pass
    usable = [a for a in dict.fromkeys(found) if not a.startswith(("127.", "0."))]
    usable.sort(key=lambda a: a.startswith("169.254."))  # link-local last
    return usable or [socket.gethostname() or "localhost"]


def interface_addresses() -> list[str]:
    """The IPv4 addresses of this computer's network interfaces (Linux; elsewhere none)."""
    try:
        import fcntl
        import struct
    except ImportError:  # pragma: no cover - not on Windows
        return []
    out = []
    for _, name in socket.if_nameindex():
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                packed = fcntl.ioctl(s.fileno(), 0x8915,  # SIOCGIFADDR
                                     struct.pack("256s", name.encode()[:15]))
            except OSError:
                continue
            out.append(socket.inet_ntoa(packed[20:24]))
    return out


def url_host(address: str) -> str:
    """An address as it is written in a URL (IPv6 in brackets)."""
    return f"[{address}]" if ":" in address else address


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
