"""Commands about access (deploy/toegang.md): a local token, the audit log, the NATS accounts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from events.gemeenten import GemeenteRegisterError
from services import bootstrap
from services.cli.basis import RegionConfigOpt, _alle_regios, _endpoints, _fail, _settings, app, console, err
from services.toegang.nats_accounts import gemeenten_van, schrijf_nats_config
from services.toegang.rollen import OngeldigeRol
from services.toegang.tokens import maak_token


@app.command()
def token(
    role: Annotated[list[str], typer.Option(
        "--role", help="gemeente:<code>, regio:<region>, auditor:<region> or subscriber "
        "(repeat for several)")],
    minutes: Annotated[int, typer.Option(help="valid for this many minutes (1..1440)")] = 60,
    sub: Annotated[str, typer.Option(help="the name the audit log shows")] = "lokaal",
) -> None:
    """Print a token signed by the local key, for `serve` on loopback without JEUGDSTROOM_AUTH_*.

    Use it as `Authorization: Bearer <token>`, or open http://127.0.0.1:8000/login?token=<token>
    for the dashboard."""
    settings = _settings()
    if settings.auth_ingesteld:
        raise _fail("JEUGDSTROOM_AUTH_* are set: `serve` accepts the identity provider's tokens "
                    "only; get one there (deploy/toegang.md)")
    try:
        tekst = maak_token(settings.state_dir, role, minuten=minutes, sub=sub)
    except (OngeldigeRol, ValueError) as error:
        raise _fail(str(error)) from None
    print(tekst)  # stdout holds the token alone: TOKEN=$(jeugdstroom token --role ...)
    err.print(f"valid {minutes} minutes for `serve` on loopback with the local key in "
              f"{escape(str(settings.state_dir))}/toegang; dashboard: /login?token=<token>")


DatumOpt = Annotated[datetime | None, typer.Option(
    "--since", formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M"], help="from this day (UTC)")]


@app.command()
def audit(
    since: DatumOpt = None,
    who: Annotated[str | None, typer.Option("--who", help="only this caller (the token's sub)")] = None,
    limit: Annotated[int, typer.Option(help="at most the last N rows")] = 1000,
) -> None:
    """The access audit log: reads of detail, replays and benchmark figures, and every denial."""
    settings = _settings()
    store = bootstrap.event_store(_endpoints(settings).database_url, settings.database_schema)
    try:
        regels = bootstrap.toegang_audit(store).lees(
            sinds=since.replace(tzinfo=UTC) if since else None, wie=who, max_regels=limit)
    finally:
        store.close()
    table = Table("time (UTC)", "who", "role", "route", "parameters", "status", "why")
    for r in regels:
        table.add_row(r.moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"), escape(r.sub or "-"),
                      escape(r.rol or "-"), escape(r.route), escape(r.parameters), str(r.status),
                      escape(r.reden))
    console.print(table)
    console.print(f"{len(regels)} rows" + (f" (the last {limit})" if len(regels) == limit else ""))


@app.command("nats-config")
def nats_config(
    region: Annotated[list[str] | None, typer.Option(
        "--region", help="a region id (repeat for several); default: every gemeente of the CBS list")] = None,
    out: Annotated[Path, typer.Option(help="directory for nats-server.conf and credentials/")] = Path(
        "nats-config"),
    subscriber: Annotated[list[str] | None, typer.Option(
        "--subscriber", help="a subscriber user to add (repeat for several)")] = None,
    server: Annotated[str | None, typer.Option(
        help="the URL clients use, e.g. tls://nats.regio.example:4222")] = None,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="replace earlier output: new passwords for every user")] = False,
    region_config: RegionConfigOpt = None,
) -> None:
    """Write a nats-server configuration in which each gemeente publishes only its own subjects
    (bcrypt hashes, TLS) and one credentials file per user (deploy/toegang.md)."""
    settings = _settings()
    if region:
        regios = _alle_regios(settings, region_config)
        onbekend = [r for r in region if r not in regios]
        if onbekend:
            raise _fail(f"unknown region {onbekend[0]}: choose from {', '.join(sorted(regios))}")
        gemeenten = gemeenten_van(regios[r] for r in region)
    else:
        try:
            register = bootstrap.gemeente_register(settings)
        except GemeenteRegisterError as error:
            raise _fail(str(error)) from None
        gemeenten = {code: g.naam for code, g in sorted(register.actueel().items())}
    err.print(f"hashing {len(gemeenten) + 1 + max(1, len(settings.partitions)) + len(subscriber or [])} "
              "new passwords (bcrypt)...")
    try:
        uitvoer = schrijf_nats_config(out, gemeenten, subscribers=subscriber or [], server=server,
                                      overschrijf=overwrite, partities=list(settings.partitions))
    except FileExistsError as error:
        raise _fail(f"{error} (--overwrite)") from None
    except ValueError as error:
        raise _fail(str(error)) from None
    console.print(f"written {uitvoer.config} and {len(uitvoer.credentials)} credentials files in "
                  f"{out / 'credentials'} (mode 0600): hand each to its owner once and delete it")
