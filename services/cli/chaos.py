"""`jeugdstroom chaos`: the pipeline under faults, compared with a clean run (services/dev/chaos.py)."""

from __future__ import annotations

from typing import Annotated

import typer

from services.cli.basis import RegionConfigOpt, RegionOpt, _regio, _settings, app, console, err


@app.command()
def chaos(
    minutes: Annotated[float, typer.Option(
        "--minutes", min=0.1, max=120, help="how long faults are injected (bounded: at most 120)")] = 10,
    region: RegionOpt = "zuid-limburg",
    seed: Annotated[int, typer.Option(help="same seed, same traffic and the same faults")] = 1,
    region_config: RegionConfigOpt = None,
) -> None:
    """Publish simulated traffic while killing and restarting ingest, the projector,
    PostgreSQL and nats-server at random moments (on embedded servers of its own under
    <state dir>/chaos, loopback only), then compare events and figures with a clean run.
    Exit 1 when anything was lost or doubled or a figure differs."""
    from services.dev.chaos import chaos as voer_uit

    settings = _settings()
    rapport = voer_uit(settings, _regio(settings, region, region_config), minutes, seed=seed,
                       meld=lambda tekst: err.print(f"  {tekst}"))
    for regel in rapport.regels():
        console.print(regel)
    if not rapport.goed:
        raise typer.Exit(1)
