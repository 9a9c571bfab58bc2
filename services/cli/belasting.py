"""`jeugdstroom loadtest`: the served API under concurrent readers (services/dev/belasting.py)."""

from __future__ import annotations

from typing import Annotated

import typer

from services.cli.basis import RegionOpt, _fail, _settings, app, console, err


@app.command()
def loadtest(
    mode: Annotated[str, typer.Option(
        help="counts: historic counts; mixed: dashboard page, counts and gemeenten; "
        "replay: /api/replay")] = "counts",
    readers: Annotated[int, typer.Option(min=1, max=200, help="concurrent readers")] = 20,
    requests: Annotated[int, typer.Option(
        min=1, max=100_000, help="stop after this many requests")] = 10_000,
    seconds: Annotated[float, typer.Option(
        min=1, max=600, help="stop after this many seconds (bounded: at most 600)")] = 120,
    url: Annotated[str | None, typer.Option(
        help="a running serve on loopback (default: start one on the configured servers)")] = None,
    token: Annotated[str | None, typer.Option(
        help="its bearer token (default: a regio token of the local key)")] = None,
    server_pid: Annotated[int | None, typer.Option(
        help="with --url: the server's process id on this machine, for its RSS")] = None,
    workers: Annotated[int, typer.Option(
        min=1, max=16, help="--workers of the serve this command starts")] = 2,
    region: RegionOpt = "zuid-limburg",
    years: Annotated[str, typer.Option(help="peildatum years to ask, as the demo's data")] = "2021-2023",
    seed: Annotated[int, typer.Option(help="same seed, same questions")] = 1,
) -> None:
    """N concurrent readers against the HTTP API over loopback (by default a serve of its own
    on the demo's data: run `jeugdstroom demo --no-serve` first): latency p50/p95/p99,
    requests/s, errors, the CPU per request of the server and of the embedded PostgreSQL, and
    the server's RSS at the start, every 1,000 requests and at the end, beside the targets
    (p95 <= 500 ms with 20 readers of historic counts; memory flat)."""
    from services.dev.belasting import Server, belasting, postgres_pid
    from services.toegang.tokens import maak_token

    settings = _settings()
    try:
        eerste, _, laatste = years.partition("-")
        jaren = range(int(eerste), int(laatste or eerste) + 1)
    except ValueError:
        raise _fail(f"--years {years}: write e.g. 2021-2023") from None
    server = None
    if url is None:
        server = Server(workers)
        err.print(f"starting serve on {server.url} ({workers} worker(s))...")
        try:
            server.wacht()
        except (RuntimeError, TimeoutError) as error:
            server.stop()
            raise _fail(str(error)) from None
        url = server.url
    if token is None:
        token = maak_token(settings.state_dir, [f"regio:{region}"], minuten=60, sub="loadtest")
    try:
        uitslag = belasting(url, token, mode, lezers=readers, aantal=requests, seconden=seconds,
                            regio=region, jaren=jaren,
                            pid=server.proces.pid if server else server_pid,
                            db_pid=None if settings.database_url else postgres_pid(settings.state_dir),
                            seed=seed,
                            meld=lambda tekst: err.print(f"  {tekst}"))
    except ValueError as error:
        raise _fail(str(error)) from None
    finally:
        if server is not None:
            server.stop()
    for regel in uitslag.regels():
        console.print(regel, highlight=False)
