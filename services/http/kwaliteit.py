"""Data quality over HTTP: `GET /api/kwaliteit` (the `kwaliteit` JSON or CSV) and the page
`/kwaliteit` (worst rules first, per gemeente and provider, the trend per month, the stream
sequences to open). A router that `services.http.api.maak_api` includes behind
`vereis_volledig`: a gemeente role reads its own gemeente's findings, regio and auditor the
region's; findings have no suppressed form.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from html import escape
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, PlainTextResponse

from projections.kwaliteit import (
    CSV_KOP,
    KRUISREGELS,
    Kwaliteitsrapport,
    als_csv_rijen,
    als_json,
)
from projections.regio import Regio
from projections.vragen import kies_gemeente, kies_regio
from services.http.dashboard import STIJL

Rapporteer = Callable[..., Kwaliteitsrapport]  # (gemeenten, *, aanbieder, van, tot)


class KwaliteitFormaat(StrEnum):
    json = "json"
    csv = "csv"


Van = Annotated[date | None, Query(alias="from", description="first Dagtekening (YYYY-MM-DD)")]
Tot = Annotated[date | None, Query(alias="to", description="last Dagtekening (YYYY-MM-DD)")]
Gemeente = Annotated[str | None, Query(description="a gemeente of the region: code or name")]
Aanbieder = Annotated[str | None, Query(description="one provider (AGB code)")]


@dataclass
class KwaliteitApi:
    rapporteer: Rapporteer
    regios: dict[str, Regio]

    def _rapport(self, region: str, gemeente: str | None, aanbieder: str | None,
                 van: date | None, tot: date | None) -> tuple[Regio, str | None, Kwaliteitsrapport]:
        regio = kies_regio(self.regios, region)
        code = kies_gemeente(regio, gemeente)
        gemeenten: Sequence[str] = [code] if code else list(regio.gemeenten)
        return regio, code, self.rapporteer(gemeenten, aanbieder=aanbieder or None, van=van,
                                            tot=tot)

    @property
    def router(self) -> APIRouter:
        router = APIRouter()

        @router.get("/api/kwaliteit", responses={200: {"content": {"text/csv": {}}}})
        def kwaliteit(region: str, gemeente: Gemeente = None, aanbieder: Aanbieder = None,
                      van: Van = None, tot: Tot = None,
                      format: KwaliteitFormaat = KwaliteitFormaat.json) -> Any:
            """Data quality: per iJw rule, gemeente, provider and month the number and share of
            messages with a finding, worst rules first, with stream sequences to open."""
            regio, code, r = self._rapport(region, gemeente, aanbieder, van, tot)
            if format is KwaliteitFormaat.csv:
                buf = io.StringIO()
                schrijver = csv.writer(buf)
                schrijver.writerow(CSV_KOP)
                schrijver.writerows(als_csv_rijen(r))
                return PlainTextResponse(buf.getvalue(), media_type="text/csv")
            return {"region": regio.id, "gemeente": code, "from": van, "to": tot,
                    "aanbieder": aanbieder, **als_json(r)}

        @router.get("/kwaliteit", response_class=HTMLResponse, include_in_schema=False)
        def pagina(region: str, gemeente: Gemeente = None, aanbieder: Aanbieder = None,
                   van: Van = None, tot: Tot = None) -> HTMLResponse:
            regio, code, r = self._rapport(region, gemeente, aanbieder, van, tot)
            return HTMLResponse(kwaliteit_pagina(regio, code, r, van, tot))

        return router


def kwaliteit_router(rapporteer: Rapporteer, regios: dict[str, Regio]) -> KwaliteitApi:
    return KwaliteitApi(rapporteer, regios)


def _pct(waarde: float | None) -> str:
    return "n.v.t." if waarde is None else f"{waarde:.1f}%"


def kwaliteit_pagina(regio: Regio, gemeente: str | None, r: Kwaliteitsrapport,
                     van: date | None = None, tot: date | None = None) -> str:
    """The data-quality page (Dutch, no script needed)."""
    waar = f"{regio.gemeenten[gemeente]} ({gemeente})" if gemeente else f"regio {regio.naam}"
    periode = f"{van.isoformat() if van else 'begin'} t/m {tot.isoformat() if tot else 'nu'}"
    params = {"region": regio.id, **({"gemeente": gemeente} if gemeente else {})}
    terug = {"regio": regio.id, **({"gemeente": gemeente} if gemeente else {})}
    regels = "".join(
        f"<tr><td>{escape(g.regel)}</td><td>{escape(KRUISREGELS.get(g.regel, ''))}</td>"
        f'<td class="getal">{g.berichten}</td><td class="getal">{g.onderzocht}</td>'
        f'<td class="getal">{_pct(g.aandeel)}</td>'
        f"<td>{escape(' '.join(f'{m}: {n}' for m, n in list(g.per_maand.items())[-6:]))}</td>"
        f"<td>{escape(' '.join(map(str, g.stream_seqs[:10])))}</td></tr>"
        for g in r.regels)
    partijen = ""
    for titel, rijen in (("gemeente", r.gemeenten), ("aanbieder", r.aanbieders)):
        body = "".join(
            f"<tr><td>{escape(regio.gemeenten.get(p.code, p.code) if titel == 'gemeente' else p.code)}"
            f'</td><td class="getal">{p.berichten}</td><td class="getal">{p.met_bevinding}</td>'
            f'<td class="getal">{_pct(p.aandeel)}</td><td>{escape(p.ergste_regel or "")}</td></tr>'
            for p in rijen)
        partijen += (f'<h2>Per {titel}</h2><table id="per-{titel}"><thead><tr><th>{titel}</th>'
                     "<th>berichten</th><th>met bevinding</th><th>aandeel</th>"
                     f"<th>meest gevonden regel</th></tr></thead><tbody>{body}</tbody></table>")
    maanden = "".join(
        f'<tr><td>{m.maand}</td><td class="getal">{m.berichten}</td>'
        f'<td class="getal">{m.met_bevinding}</td><td class="getal">{_pct(m.aandeel)}</td></tr>'
        for m in r.maanden)
    body = (
        f'<p><a href="/?{escape(urlencode(terug))}">← terug naar de cijfers</a></p>'
        f'<h2 id="titel">Datakwaliteit: {escape(waar)}, Dagtekening {periode}</h2>'
        f'<p id="samenvatting">{r.met_bevinding} van {r.berichten} berichten hebben een '
        f"bevinding ({_pct(r.aandeel)}). Een bevinding is een overtreding van een iJw-regel "
        "(CD, CS, TR); het bericht is wel verwerkt. JS01-JS04 zijn regels over meer berichten "
        "(hun aandeel is over de onderzochte declaratieregels of toewijzingen). Open een "
        "bericht met zijn stream-volgnummer (seq), zoals bij <code>jeugdstroom rejected</code>."
        "</p>"
        '<h2>Per regel, de slechtste eerst</h2><table id="per-regel"><thead><tr><th>regel</th>'
        "<th>omschrijving</th><th>met bevinding</th><th>onderzocht</th><th>aandeel</th>"
        "<th>per maand (laatste 6)</th><th>stream seq</th></tr></thead>"
        f"<tbody>{regels}</tbody></table>"
        f"{partijen}"
        '<h2>Trend per maand</h2><table id="per-maand"><thead><tr><th>maand</th><th>berichten'
        "</th><th>met bevinding</th><th>aandeel</th></tr></thead>"
        f"<tbody>{maanden}</tbody></table>"
        f'<p><a href="/api/kwaliteit?{escape(urlencode({**params, "format": "csv"}))}" '
        "download>CSV</a></p>")
    return (f'<!doctype html><html lang="nl"><head><meta charset="utf-8"><meta name="viewport" '
            f'content="width=device-width, initial-scale=1"><title>jeugdstroom: datakwaliteit'
            f"</title><style>{STIJL}</style></head><body><h1>jeugdstroom: datakwaliteit</h1>"
            f"{body}</body></html>")
