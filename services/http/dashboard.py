"""The dashboard page: server-rendered HTML with inline SVG charts, so it needs no internet.

Dutch, as its users speak. Every view is a URL (`/?regio=..&gemeente=..&van=..&peildatum=..
&bekend_op=..&vergelijk_op=..`), so a link can be shared. Every figure on the page carries
data-segment/data-veld attributes (and data-gemeente where it is a gemeente's), so that a
browser test can compare the page with the API. A gemeente's page (`gemeente=`) is the
drill-down: its own figures, trends, zorgduur and difference.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from html import escape
from urllib.parse import urlencode

from projections.flow import SegmentTelling, Telling, Wijziging
from projections.regio import Regio, Segment
from projections.vragen import (
    LABELS,
    VELDEN,
    Leeskant,
    Maand,
    OngeldigeVraag,
    Stand,
    Zorgduur,
    kies_gemeente,
    kies_regio,
    label,
    lees_datum,
    redelijk,
    venster,
)

KOPPEN = {veld: LABELS[veld] for veld in VELDEN}
KPI = ("in_zorg", "instroom_totaal", "uitstroom", "unieke_jeugdigen")
PER_GEMEENTE = ("instroom_totaal", "uitstroom", "in_zorg")
MAAND_KORT = ("jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec")
TOEN_NA_PEILDATUM = 90  # the default "toen": what was known 90 days after the peildatum

STIJL = """
body{font-family:system-ui,sans-serif;margin:0 auto;padding:1rem;box-sizing:border-box;color:#1b1b1b;
 max-width:1240px}
h1{font-size:1.35rem;margin:.2rem 0}h2{font-size:1.1rem;margin-top:1.8rem;border-bottom:1px solid #ccc}
.stand{color:#444;font-size:.9rem;margin:.2rem 0 .8rem}
form{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:flex-end;background:#f5f7fa;
 padding:.6rem;border:1px solid #dde}
form label{display:flex;flex-direction:column;font-size:.85rem}
form input,form select,form button{font-size:1rem;padding:.2rem}
.tabelvak{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;margin:.5rem 0}th,td{padding:.25rem .5rem;border:1px solid #ddd}
td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f2f4f7;text-align:left}
th.sorteer{cursor:pointer}th.sorteer::after{content:" \\2195";color:#888}
.fout{background:#fde8e8;border:1px solid #e0a0a0;padding:.5rem}
.letop{background:#fff6db;border:1px solid #e6c766;padding:.4rem .6rem;margin:.3rem 0}
.kaarten{display:flex;flex-wrap:wrap;gap:.8rem}
.kaart{border:1px solid #ccd;border-radius:6px;padding:.5rem .8rem;min-width:16rem;flex:1}
.kaart h3{margin:.1rem 0 .4rem;font-size:1rem}.kaart dl{margin:0;display:grid;
 grid-template-columns:auto auto;gap:.1rem .8rem}.kaart dd{margin:0;text-align:right;
 font-variant-numeric:tabular-nums;white-space:nowrap}.kaart small{color:#555}
.grafieken{display:flex;flex-wrap:wrap;gap:1rem}figure{margin:0}svg{max-width:100%;height:auto}
.hoger{color:#1f4e9c}.lager{color:#b45309}.nvt{color:#777}.klein{font-size:.85rem;color:#444}
.uitvoer a{margin-right:.8rem}
"""

SORTEER = """
document.querySelectorAll('table.sorteerbaar').forEach(function (t) {
  t.querySelectorAll('th.sorteer').forEach(function (th) {
    th.addEventListener('click', function () {
      var kolom = +th.dataset.kolom, op = th.dataset.richting !== 'op';
      th.dataset.richting = op ? 'op' : 'af';
      var rijen = Array.from(t.tBodies[0].rows);
      rijen.sort(function (a, b) {
        var x = a.cells[kolom].dataset.sorteer, y = b.cells[kolom].dataset.sorteer;
        var nx = parseFloat(x), ny = parseFloat(y);
        var c = (isNaN(nx) || isNaN(ny)) ? x.localeCompare(y, 'nl') : nx - ny;
        return op ? c : -c;
      });
      rijen.forEach(function (r) { t.tBodies[0].appendChild(r); });
    });
  });
});
"""


@dataclass(frozen=True)
class Vraag:
    """What the page shows: one question, from its URL."""

    regio: Regio
    gemeente: str | None
    van: date
    peildatum: date
    bekend_op: date | None
    vergelijk_op: date
    peildatum_gekozen: bool  # False: the last day with data, chosen for the reader

    def url(self, **anders: str | None) -> str:
        waarden: dict[str, str | None] = {
            "regio": self.regio.id, "gemeente": self.gemeente, "van": self.van.isoformat(),
            "peildatum": self.peildatum.isoformat(),
            "bekend_op": self.bekend_op.isoformat() if self.bekend_op else None,
            "vergelijk_op": self.vergelijk_op.isoformat()}
        waarden.update(anders)
        return "/?" + urlencode({k: v for k, v in waarden.items() if v})

    def api(self, pad: str, **extra: str | None) -> str:
        waarden: dict[str, str | None] = {
            "region": self.regio.id, "peildatum": self.peildatum.isoformat(),
            "from": self.van.isoformat(),
            "known_at": self.bekend_op.isoformat() if self.bekend_op else None,
            "gemeente": self.gemeente}
        waarden.update(extra)
        return f"{pad}?" + urlencode({k: v for k, v in waarden.items() if v})


GeldSectie = Callable[[Regio, date, date, date | None], str]
ZorgSectie = Callable[[Regio, date, date, date | None, str | None], str]


def pagina(leeskant: Leeskant, regios: dict[str, Regio], params: Mapping[str, str],
           geld: GeldSectie | None = None, zorg: ZorgSectie | None = None) -> tuple[str, int]:
    """The page and its HTTP status: 400 with the form and the problem for a wrong question.
    `geld` renders the money section of the region (services/http/geld.py), `zorg` the care
    section of the region or gemeente (services/http/zorg.py), when there is one."""
    regio_id = params.get("regio") or ("zuid-limburg" if "zuid-limburg" in regios else sorted(regios)[0])
    try:
        vraag = _vraag(leeskant, regios, regio_id, params)
    except OngeldigeVraag as fout:
        regio = regios.get(regio_id) or regios[sorted(regios)[0]]
        return _html(_formulier(regios, regio, params)
                     + f'<p class="fout" role="alert">{escape(str(fout))}</p>'), 400
    return _html(_inhoud(leeskant, regios, vraag, geld, zorg)), 200


def _vraag(leeskant: Leeskant, regios: dict[str, Regio], regio_id: str,
           params: Mapping[str, str]) -> Vraag:
    vandaag = date.today()
    regio = kies_regio(regios, regio_id)
    gemeente = kies_gemeente(regio, params.get("gemeente"))
    peildatum = _datum(params.get("peildatum"), "peildatum")
    gekozen = peildatum is not None
    if peildatum is None:
        peildatum = leeskant.laatste_peildatum(regio, vandaag) or date(vandaag.year - 1, 12, 31)
    van = _datum(params.get("van"), "van")
    bekend_op = redelijk(_datum(params.get("bekend_op"), "bekend op"), "bekend op")
    start, pd = venster(regio, peildatum, van, gemeente)
    vergelijk_op = redelijk(_datum(params.get("vergelijk_op"), "vergelijk met"), "vergelijk met") \
        or min(pd + timedelta(days=TOEN_NA_PEILDATUM), vandaag)
    return Vraag(regio, gemeente, start, pd, bekend_op, vergelijk_op, gekozen)


def _datum(tekst: str | None, naam: str) -> date | None:
    return lees_datum(tekst, naam) if tekst and tekst.strip() else None


def _html(body: str) -> str:
    return (f'<!doctype html><html lang="nl"><head><meta charset="utf-8"><meta name="viewport" '
            f'content="width=device-width, initial-scale=1"><title>jeugdstroom</title>'
            f'<style>{STIJL}</style></head><body><h1>jeugdstroom: instroom, doorstroom '
            f'en uitstroom in de jeugdhulp</h1>{body}<script>{SORTEER}</script></body></html>')


def _inhoud(leeskant: Leeskant, regios: dict[str, Regio], v: Vraag, geld: GeldSectie | None,
            zorg: ZorgSectie | None = None) -> str:
    regio, pd, k = v.regio, v.peildatum, v.bekend_op
    telling = leeskant.telling(regio, v.van, pd, k, v.gemeente)
    vorig = leeskant.telling(regio, _jaar_eerder(v.van), _jaar_eerder(pd), k, v.gemeente)
    k1, k2 = sorted([k or date.today(), v.vergelijk_op])
    een, twee, wijzigingen = leeskant.diff(regio, v.van, pd, k1, k2, v.gemeente)
    eerste = _maand_terug(pd, 11)
    reeks = leeskant.tijdreeks(regio, eerste.strftime("%Y-%m"), pd.strftime("%Y-%m"), k, v.gemeente)
    duur = leeskant.zorgduur(regio, v.van, pd, k, v.gemeente)
    waar = (f"gemeente {regio.gemeenten[v.gemeente]} ({v.gemeente}) in {regio.naam}"
            if v.gemeente else f"regio {regio.naam}")
    bekend = k.isoformat() if k else f"nu ({date.today().isoformat()})"
    keuze = ("" if v.peildatum_gekozen else
             f'<p class="letop" id="peildatum-keuze">Peildatum {pd.isoformat()}: de laatste '
             "peildatum met gegevens (het einde van de laatste maand waarin een toewijzing "
             "begon). Kies hierboven een andere peildatum.</p>")
    terug = (f'<p><a href="{escape(v.url(gemeente=None))}" id="naar-regio">← terug naar de hele '
             f"regio {escape(regio.naam)}</a></p>" if v.gemeente else "")
    kwaliteit = urlencode({"region": regio.id, **({"gemeente": v.gemeente} if v.gemeente else {})})
    delen = [
        _stand(leeskant.stand(regio)),
        f'<nav><a href="/kwaliteit?{escape(kwaliteit)}" id="naar-kwaliteit">Datakwaliteit van '
        "de berichten</a></nav>",
        _formulier(regios, regio, {
            "gemeente": v.gemeente or "", "van": v.van.isoformat(), "peildatum": pd.isoformat(),
            "bekend_op": k.isoformat() if k else "", "vergelijk_op": v.vergelijk_op.isoformat()}),
        terug,
        f'<h2 id="titel">{escape(waar)}: {v.van.isoformat()} t/m {pd.isoformat()}, bekend op '
        f"{bekend}</h2>",
        keuze,
        *(f'<p class="letop" role="note">Let op: {escape(w)}</p>' for w in telling.waarschuwingen),
        f"<h3>Per segment, met de verandering ten opzichte van hetzelfde venster een jaar eerder "
        f"({_jaar_eerder(v.van).isoformat()} t/m {_jaar_eerder(pd).isoformat()})</h3>",
        _kaarten(telling, vorig),
        "<h3>Alle cijfers per segment</h3>",
        _tabel(telling),
        _uitvoer(v, "/api/counts", "de tabel", publicatie=True),
        "<h2>Zorgduur per segment</h2>",
        _zorgduur(regio, duur),
        "" if zorg is None else f'<div class="tabelvak">{zorg(regio, v.van, pd, k, v.gemeente)}</div>',
        f"<h2>Trend per segment: totale instroom en uitstroom per maand, "
        f"{eerste.strftime('%Y-%m')} t/m {pd.strftime('%Y-%m')}</h2>",
        '<div class="grafieken" id="trend">',
        *(_grafiek(segment, reeks) for segment in regio.segmenten if segment.flow),
        "</div>",
        _uitvoer(v, "/api/timeseries", "de maandreeks", reeks_van=eerste.strftime("%Y-%m"),
                 reeks_tot=pd.strftime("%Y-%m")),
    ]
    if v.gemeente is None:
        _, gemeenten = leeskant.regio_en_gemeenten(regio, v.van, pd, k)
        delen += ["<h2>Gemeenten naast elkaar</h2>",
                  '<p class="klein">Klik op een kolomkop om te sorteren; klik op een gemeente voor '
                  "haar eigen pagina.</p>",
                  _gemeenten(v, gemeenten),
                  _uitvoer(v, "/api/gemeenten", "de gemeenten", gemeente=None)]
        if geld is not None:  # its wide tables scroll inside the section, not the page
            delen.append(f'<div class="tabelvak">{geld(regio, v.van, pd, k)}</div>')
    delen += [
        f'<h2 id="toen-nu">Toen versus nu: bekend op {k1.isoformat()} tegenover bekend op '
        f"{k2.isoformat()}</h2>",
        _verschil(een, twee),
        _wijzigingen(wijzigingen),
        _uitvoer(v, "/api/diff", "het verschil", known_at=None,
                 extra=f"&known_at={k1.isoformat()}&known_at={k2.isoformat()}"),
    ]
    return "".join(delen)


def _jaar_eerder(d: date) -> date:
    return d.replace(year=d.year - 1) if not (d.month == 2 and d.day == 29) else date(d.year - 1, 2, 28)


def _maand_terug(d: date, maanden: int) -> date:
    index = d.year * 12 + d.month - 1 - maanden
    return date(index // 12, index % 12 + 1, 1)


def _stand(stand: Stand) -> str:
    laatste = stand.laatste_bericht.isoformat() if stand.laatste_bericht else "nog geen"
    achter = ("onbekend hoeveel nog niet verwerkt" if stand.achter is None else
              "bijgewerkt tot het laatste bericht" if stand.achter == 0 else
              f"{stand.achter} gebeurtenissen nog niet verwerkt")
    return (f'<p class="stand" id="stand">Stand per {date.today().isoformat()}: laatste bericht '
            f'met gevolgen voor de cijfers gedateerd <b>{laatste}</b>; projectie bij gebeurtenis '
            f"{stand.positie}, {achter}.</p>")


def _formulier(regios: dict[str, Regio], regio: Regio, waarden: Mapping[str, str]) -> str:
    regio_opties = "".join(
        f'<option value="{escape(r.id)}"{" selected" if r.id == regio.id else ""}>'
        f"{escape(r.naam)}</option>" for r in regios.values())
    gekozen = waarden.get("gemeente") or ""
    gemeente_opties = '<option value="">hele regio</option>' + "".join(
        f'<option value="{code}"{" selected" if code == gekozen else ""}>{escape(naam)} ({code})'
        "</option>" for code, naam in sorted(regio.gemeenten.items(), key=lambda cn: cn[1]))

    def datumveld(naam: str, tekst: str, hulp: str) -> str:
        # text, not type=date: a date reads JJJJ-MM-DD whatever the browser's language, and the
        # server says what is wrong with one (2023-02-30 does not exist)
        return (f'<label>{tekst} <input type="text" inputmode="numeric" name="{naam}" '
                f'id="veld-{naam}" size="10" placeholder="JJJJ-MM-DD" '
                f'pattern="[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}" value="{escape(waarden.get(naam) or "")}" '
                f'title="{hulp}"></label>')

    return (f'<form method="get" id="vraag"><label>regio <select name="regio" id="veld-regio">'
            f"{regio_opties}</select></label>"
            f'<label>gemeente <select name="gemeente" id="veld-gemeente">{gemeente_opties}</select>'
            "</label>"
            + datumveld("van", "van (begin venster)", "leeg: 1 januari van het jaar van de peildatum")
            + datumveld("peildatum", "peildatum (einde venster)",
                        "leeg: de laatste peildatum met gegevens")
            + datumveld("bekend_op", "bekend op (leeg: nu)", "alleen berichten gedateerd op of vóór")
            + datumveld("vergelijk_op", "vergelijk met bekend op", "de tweede kennisdatum voor "
                        "toen versus nu; leeg: 90 dagen na de peildatum")
            + '<button id="toon">Toon</button></form>')


def _getal(waarde: int | None) -> str:
    return "n.v.t." if waarde is None else str(waarde)


def _waarde(s: SegmentTelling, veld: str) -> int | None:
    return s.alle_instroom if veld == "instroom_totaal" else getattr(s, veld)


def _cel(waarde: int | None, segment: str, veld: str, gemeente: str | None = None) -> str:
    attr = f' data-gemeente="{gemeente}"' if gemeente else ""
    return (f'<td class="n{" nvt" if waarde is None else ""}" data-sorteer="'
            f'{-1 if waarde is None else waarde}"{attr} data-segment="{segment}" '
            f'data-veld="{veld}">{_getal(waarde)}</td>')


def _pijl(verschil: int) -> str:
    if verschil > 0:
        return f'<span class="hoger">▲ +{verschil}</span>'
    if verschil < 0:
        return f'<span class="lager">▼ −{-verschil}</span>'
    return "= 0"


def _kaarten(telling: Telling, vorig: Telling) -> str:
    kaarten = []
    for s, t in zip(telling.segmenten, vorig.segmenten, strict=True):
        regels = []
        for veld in KPI:
            nu, toen = _waarde(s, veld), _waarde(t, veld)
            wijziging = "" if nu is None or toen is None else (
                f' <small data-vorig="{toen}">{_pijl(nu - toen)} (was {toen})</small>')
            regels.append(f"<dt>{LABELS[veld]}</dt><dd data-segment=\"{s.segment}\" "
                          f'data-veld="{veld}">{_getal(nu)}{wijziging}</dd>')
        kaarten.append(f'<section class="kaart" data-segment="{s.segment}"><h3>{escape(s.naam)}'
                       f"</h3><dl>{''.join(regels)}</dl></section>")
    return f'<div class="kaarten" id="kaarten">{"".join(kaarten)}</div>'


def _tabel(telling: Telling) -> str:
    kop = "".join(f"<th>{k}</th>" for k in KOPPEN.values())
    rijen = "".join(
        f"<tr><th>{escape(s.naam)}</th>"
        + "".join(_cel(getattr(s, veld), s.segment, veld) for veld in KOPPEN) + "</tr>"
        for s in telling.segmenten)
    return (f'<div class="tabelvak"><table id="tabel"><tr><th>segment</th>{kop}</tr>{rijen}</table>'
            f'</div><p>unieke jeugdigen in totaal: <span id="totaal">{telling.totaal_unieke_jeugdigen}'
            f'</span>; toewijzingen zonder segment: <span id="zonder-segment">'
            f"{telling.unmapped_toewijzingen}</span></p>"
            '<p class="klein">instroom: een toewijzing zonder voorganger in het segment (de eerste '
            "van vijf instroomcategorieën); totale instroom: alle vijf samen, elke toewijzing die "
            "in het venster begon. n.v.t.: het segment heeft geen stroomcijfers.</p>")


def _zorgduur(regio: Regio, duur: dict[str, Zorgduur]) -> str:
    rijen = "".join(
        f"<tr><th>{escape(regio.segment(z.segment).naam)}</th>"
        + _cel(z.afgesloten, z.segment, "afgesloten") + _cel(z.mediaan, z.segment, "mediaan")
        + _cel(z.p90, z.segment, "p90") + _cel(z.lopend, z.segment, "lopend")
        + f'<td class="n" data-segment="{z.segment}" data-veld="aandeel_lopend">'
        + ("n.v.t." if z.aandeel_lopend is None else f"{z.aandeel_lopend * 100:.1f}%") + "</td></tr>"
        for z in duur.values())
    return ('<div class="tabelvak"><table id="zorgduur"><tr><th>segment</th><th>afgesloten '
            "episodes</th><th>mediaan (dagen)</th><th>90e percentiel (dagen)</th><th>lopende "
            f"episodes</th><th>aandeel lopend</th></tr>{rijen}</table></div>"
            '<p class="klein">Een episode is een reeks toewijzingen in één segment die op elkaar '
            "aansluiten (doorstroom of stapeling). Afgesloten: de uitstroom ligt in het venster; "
            "zorgduur = einde min eerste start plus één dag. Lopend: begonnen op of vóór de "
            "peildatum, zonder uitstroom tot dan. n.v.t.: geen afgesloten episodes.</p>")


def _rond_op(waarde: int) -> int:
    """A round axis maximum at or above `waarde`: 1, 2, 5 times a power of ten."""
    stap = 1
    while True:
        for f in (1, 2, 5):
            if waarde <= f * stap:
                return f * stap
        stap *= 10


def _grafiek(segment: Segment, reeks: Sequence[Maand]) -> str:
    punten = [m for m in reeks if m.segment == segment.id]
    breed, hoog, links, rechts, boven, onder = 560, 264, 52, 12, 14, 62
    grootste = max([4, *(m.instroom_totaal or 0 for m in punten), *(m.uitstroom or 0 for m in punten)])
    hoogste = 4 * _rond_op(-(-grootste // 4))  # four gridlines at round values
    stap = (breed - links - rechts) / max(len(punten) - 1, 1)

    def x(i: int) -> float:
        return links + i * stap

    def y(waarde: int | None) -> float:
        return hoog - onder - (waarde or 0) / hoogste * (hoog - onder - boven)

    raster = "".join(
        f'<line x1="{links}" y1="{y(w):.1f}" x2="{breed - rechts}" y2="{y(w):.1f}" stroke="#ddd"/>'
        f'<text x="{links - 6}" y="{y(w) + 4:.1f}" font-size="11" text-anchor="end">{w}</text>'
        for w in (hoogste * i // 4 for i in range(5)))

    def reeks_svg(veld: str, naam: str, kleur: str, streep: str, vorm: str) -> str:
        xy = " ".join(f"{x(i):.1f},{y(getattr(m, veld)):.1f}" for i, m in enumerate(punten))
        merktekens = "".join(
            (f'<circle cx="{x(i):.1f}" cy="{y(getattr(m, veld)):.1f}" r="4" fill="{kleur}"'
             if vorm == "rond" else
             f'<rect x="{x(i) - 4:.1f}" y="{y(getattr(m, veld)) - 4:.1f}" width="8" height="8" '
             f'fill="white" stroke="{kleur}" stroke-width="2"')
            + f' data-maand="{m.maand}" data-veld="{veld}" data-waarde="{_getal(getattr(m, veld))}">'
            f"<title>{m.maand}: {naam} {_getal(getattr(m, veld))}</title>"
            + ("</circle>" if vorm == "rond" else "</rect>")
            for i, m in enumerate(punten))
        return (f'<polyline fill="none" stroke="{kleur}" stroke-width="2" stroke-dasharray="{streep}" '
                f'points="{xy}"/>{merktekens}')

    labels = "".join(
        f'<text x="{x(i):.1f}" y="{hoog - onder + 16}" font-size="11" text-anchor="middle">'
        f"{MAAND_KORT[int(m.maand[5:]) - 1]} {m.maand[2:4]}</text>"
        for i, m in enumerate(punten) if i % 2 == 0)
    legenda = (f'<g font-size="11"><line x1="{links}" y1="{hoog - 8}" x2="{links + 26}" '
               f'y2="{hoog - 8}" stroke="#1f4e9c" stroke-width="2"/><circle cx="{links + 13}" '
               f'cy="{hoog - 8}" r="4" fill="#1f4e9c"/><text x="{links + 32}" y="{hoog - 4}">'
               f'totale instroom (doorgetrokken, rondjes)</text><line x1="{links + 270}" '
               f'y1="{hoog - 8}" x2="{links + 296}" y2="{hoog - 8}" stroke="#b45309" '
               f'stroke-width="2" stroke-dasharray="6 4"/><rect x="{links + 279}" y="{hoog - 12}" '
               f'width="8" height="8" fill="white" stroke="#b45309" stroke-width="2"/>'
               f'<text x="{links + 302}" y="{hoog - 4}">uitstroom (gestreept, vierkantjes)</text></g>')
    return (f'<figure data-segment="{segment.id}"><figcaption><b>{escape(segment.naam)}</b>: '
            f"totale instroom en uitstroom per maand (wijs een punt aan voor de waarde)</figcaption>"
            f'<svg viewBox="0 0 {breed} {hoog}" width="{breed}" height="{hoog}" role="img" '
            f'aria-label="trend {escape(segment.naam)}: totale instroom en uitstroom per maand">'
            f"{raster}"
            f'<line x1="{links}" y1="{hoog - onder}" x2="{breed - rechts}" y2="{hoog - onder}" '
            f'stroke="#555"/><line x1="{links}" y1="{boven}" x2="{links}" y2="{hoog - onder}" '
            f'stroke="#555"/>'
            f'<text x="12" y="{(hoog - onder + boven) / 2:.0f}" font-size="11" text-anchor="middle" '
            f'transform="rotate(-90 12 {(hoog - onder + boven) / 2:.0f})">aantal toewijzingen</text>'
            f"{reeks_svg('instroom_totaal', 'totale instroom', '#1f4e9c', '', 'rond')}"
            f"{reeks_svg('uitstroom', 'uitstroom', '#b45309', '6 4', 'vierkant')}"
            f'<text x="{breed - rechts}" y="{hoog - onder + 31}" font-size="11" text-anchor="end">'
            f"maand</text>{labels}{legenda}</svg></figure>")


def _gemeenten(v: Vraag, tellingen: list[Telling]) -> str:
    regio = v.regio
    uitgesloten = {s.id: s.uitgesloten_gemeenten for s in regio.segmenten}
    # one figure per column; a segment without flow figures has only "in zorg" to compare
    kolommen = [(s, veld) for s in regio.segmenten for veld in (PER_GEMEENTE if s.flow else ("in_zorg",))]
    kop1 = '<th rowspan="2" class="sorteer" data-kolom="0">gemeente</th>' + "".join(
        f'<th colspan="{len(PER_GEMEENTE) if s.flow else 1}">{escape(s.naam)}</th>'
        for s in regio.segmenten)
    kop2 = "".join(f'<th class="sorteer" data-kolom="{i}">{LABELS[veld]}</th>'
                   for i, (_, veld) in enumerate(kolommen, start=1))
    rijen = []
    for t in sorted(tellingen, key=lambda t: regio.gemeenten[t.gemeente or ""]):
        code = t.gemeente or ""
        naam = regio.gemeenten[code]
        per_segment = {s.segment: s for s in t.segmenten}
        cellen = "".join(
            '<td class="n nvt" data-sorteer="-1">uitgesloten</td>' if code in uitgesloten[s.id]
            else _cel(_waarde(per_segment[s.id], veld), s.id, veld, code)
            for s, veld in kolommen)
        rijen.append(f'<tr><th data-sorteer="{escape(naam)}"><a class="drill" data-gemeente="{code}" '
                     f'href="{escape(v.url(gemeente=code))}">{escape(naam)}</a></th>{cellen}</tr>')
    return (f'<div class="tabelvak"><table id="gemeenten" class="sorteerbaar"><thead><tr>{kop1}</tr>'
            f'<tr>{kop2}</tr></thead><tbody>{"".join(rijen)}</tbody></table></div>'
            '<p class="klein">uitgesloten: de gemeente koopt dit segment zelf in; een segment zonder '
            "stroomcijfers (bijvoorbeeld crisis, lumpsum) toont alleen in zorg.</p>")


def _verschil(een: Telling, twee: Telling) -> str:
    kop = "".join(f"<th>{k}</th>" for k in KOPPEN.values())
    rijen = []
    for a, b in zip(een.segmenten, twee.segmenten, strict=True):
        cellen = []
        for veld in KOPPEN:
            oud, nieuw = getattr(a, veld), getattr(b, veld)
            if oud is None or nieuw is None:
                cellen.append('<td class="n nvt">n.v.t.</td>')
            else:
                cellen.append(f'<td class="n" data-segment="{a.segment}" data-veld="{veld}" '
                              f'data-toen="{oud}" data-nu="{nieuw}">{oud} → {nieuw} '
                              f"{_pijl(nieuw - oud) if nieuw != oud else ''}</td>")
        rijen.append(f"<tr><th>{escape(a.naam)}</th>{''.join(cellen)}</tr>")
    return (f'<div class="tabelvak"><table id="verschil"><tr><th>segment</th>{kop}</tr>'
            f'{"".join(rijen)}</table></div><p class="klein" id="legenda">Legenda: toen → nu; '
            '<span class="hoger">▲ +n</span> hoger dan toen, <span class="lager">▼ −n</span> lager '
            "dan toen, geen teken: gelijk. De kleur herhaalt alleen de pijl; hoger of lager is "
            "niet goed of slecht.</p>")


def _oorzaak(w: Wijziging) -> str:
    if not w.oorzaak:
        return "geen nieuw bericht: alleen de tijd verstreek (een voorlopige uitstroom werd definitief)"
    if w.datum is None:
        return f"toewijzing niet meer geldig op de tweede datum: {w.wat}"
    berichten = ", ".join(w.oorzaak.split(","))
    return (f"JW301 (toewijzing) {berichten} (gemeente:identificatie), gedateerd "
            f"{w.datum.isoformat()}: {w.wat or 'geen wijziging aan deze toewijzing zelf'}")


def _wijzigingen(wijzigingen: list[Wijziging]) -> str:
    if not wijzigingen:
        return "<p>Geen toewijzingen veranderd tussen toen en nu.</p>"
    rijen = "".join(
        f"<tr><td>{escape(w.client[:12])}</td><td>{w.gemeentecode}:{w.toewijzingnummer}</td>"
        f"<td>{escape(w.segment or '-')}</td><td>{escape(label(w.oud))}</td>"
        f"<td>{escape(label(w.nieuw))}</td><td>{escape(_oorzaak(w))}</td></tr>"
        for w in wijzigingen[:200])
    meer = (f"<p>en nog {len(wijzigingen) - 200} meer (alle in de export hieronder)</p>"
            if len(wijzigingen) > 200 else "")
    aantal = ("1 toewijzing verklaart" if len(wijzigingen) == 1
              else f"{len(wijzigingen)} toewijzingen verklaren")
    return (f'<p>{aantal} het verschil:</p><div class="tabelvak">'
            '<table id="wijzigingen"><tr><th>jeugdige (pseudoniem)</th><th>toewijzing</th>'
            "<th>segment</th><th>telde toen als</th><th>telt nu als</th><th>oorzaak</th></tr>"
            f"{rijen}</table></div>{meer}")


def _uitvoer(v: Vraag, pad: str, wat: str, *, publicatie: bool = False, extra: str = "",
             reeks_van: str | None = None, reeks_tot: str | None = None,
             **params: str | None) -> str:
    """Export links of one view: the same question as the page, as CSV and xlsx. The monthly
    series is asked by months (`reeks_van`, `reeks_tot`) instead of a window."""
    if reeks_van:
        params.update({"from_month": reeks_van, "to_month": reeks_tot, "peildatum": None,
                       "from": None})
    links = [f'<a href="{escape(v.api(pad, format="csv", **params) + extra)}" download '
             f'data-export="csv">{wat} als CSV</a>',
             f'<a href="{escape(v.api(pad, format="xlsx", **params) + extra)}" download '
             f'data-export="xlsx">{wat} als Excel (xlsx)</a>']
    if publicatie:
        links.append(f'<a href="{escape(v.api(pad, publication="true", **params) + extra)}" download '
                     f'data-export="publicatie">voor publicatie (kleine aantallen als &lt;'
                     f"{v.regio.min_cel})</a>")
    return f'<p class="uitvoer">Exporteer: {"".join(links)}</p>'
