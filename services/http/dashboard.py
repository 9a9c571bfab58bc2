"""The dashboard page: server-rendered HTML with inline SVG charts, so it needs no internet.

Labels are Dutch, as its users speak. Every figure cell carries data-segment/data-veld
attributes so that a browser test can compare the page with the API.
"""

from __future__ import annotations

from datetime import date, timedelta
from html import escape

from projections.flow import Telling
from projections.regio import Regio
from projections.vragen import Leeskant, OngeldigeVraag, kies_regio, redelijk, venster

KOPPEN = {"instroom": "instroom", "stapeling": "stapeling", "doorstroom": "doorstroom",
          "recidive": "recidive", "hernieuwde_instroom": "hernieuwde instroom",
          "uitstroom": "uitstroom", "uitstroom_voorlopig": "w.v. voorlopig",
          "in_zorg": "in zorg op peildatum", "unieke_jeugdigen": "unieke jeugdigen"}

STIJL = """
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#1b1b1b;max-width:1200px}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5rem 0}th,td{padding:.25rem .6rem;border:1px solid #ddd}
td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f2f4f7;text-align:left}
.fout{background:#fde8e8;border:1px solid #e0a0a0;padding:.5rem}
.grafieken{display:flex;flex-wrap:wrap;gap:1rem}
.plus{color:#a33}.min{color:#2a6}.nvt{color:#888}form label{margin-right:1rem}
"""


def pagina(leeskant: Leeskant, regios: dict[str, Regio], regio_id: str | None,
           peildatum_tekst: str | None, bekend_op_tekst: str | None) -> tuple[str, int]:
    """The page and its HTTP status: 400 with the form and the problem for a wrong question."""
    vandaag = date.today()
    regio_id = regio_id or ("zuid-limburg" if "zuid-limburg" in regios else sorted(regios)[0])
    try:
        regio = kies_regio(regios, regio_id)
        peildatum = _datum(peildatum_tekst, "peildatum") or date(vandaag.year - 1, 12, 31)
        bekend_op = redelijk(_datum(bekend_op_tekst, "bekend op"), "bekend op")
        van, pd = venster(regio, peildatum, None, None)
    except OngeldigeVraag as fout:
        return _html(_formulier(regios, regio_id, peildatum_tekst, bekend_op_tekst)
                     + f'<p class="fout" role="alert">{escape(str(fout))}</p>'), 400
    toen = bekend_op or pd + timedelta(days=90)
    telling, gemeenten = leeskant.regio_en_gemeenten(regio, van, pd, bekend_op)
    een, twee, wijzigingen = leeskant.diff(regio, van, pd, toen, vandaag)
    eerste_maand = date(pd.year - 1, pd.month % 12 + 1, 1) if pd.month < 12 else date(pd.year, 1, 1)
    reeks = leeskant.tijdreeks(regio, eerste_maand.strftime("%Y-%m"), pd.strftime("%Y-%m"),
                      bekend_op)
    bekend = bekend_op.isoformat() if bekend_op else "nu"
    delen = [
        _formulier(regios, regio.id, pd.isoformat(), bekend_op_tekst),
        f"<h2>{escape(regio.naam)}: {van.isoformat()} t/m {pd.isoformat()}, bekend op {bekend}</h2>",
        _tabel(telling, "tabel"),
        *(f'<p class="fout">let op: {escape(w)}</p>' for w in telling.waarschuwingen),
        "<h2>Trend per segment: instroom en uitstroom per maand</h2>",
        '<div class="grafieken" id="trend">',
        *(_grafiek(regio, segment, reeks) for segment in regio.segmenten if segment.flow),
        "</div>",
        "<h2>Gemeenten naast elkaar (instroom / uitstroom / in zorg)</h2>",
        _gemeenten(regio, gemeenten),
        f"<h2>Toen versus nu: bekend op {toen.isoformat()} tegenover vandaag</h2>",
        _verschil(een, twee),
        _wijzigingen(wijzigingen),
    ]
    return _html("".join(delen)), 200


def _datum(tekst: str | None, naam: str) -> date | None:
    if not tekst:
        return None
    try:
        return date.fromisoformat(tekst)
    except ValueError:
        raise OngeldigeVraag(f"{naam} '{tekst}' is geen datum: schrijf JJJJ-MM-DD, "
                             "bijvoorbeeld 2023-12-31") from None


def _html(body: str) -> str:
    return (f'<!doctype html><html lang="nl"><head><meta charset="utf-8"><title>jeugdstroom'
            f'</title><style>{STIJL}</style></head><body><h1>jeugdstroom: instroom, doorstroom '
            f'en uitstroom in de jeugdhulp</h1>{body}</body></html>')


def _formulier(regios: dict[str, Regio], regio_id: str, peildatum: str | None,
               bekend_op: str | None) -> str:
    opties = "".join(
        f'<option value="{escape(r.id)}"{" selected" if r.id == regio_id else ""}>'
        f"{escape(r.naam)}</option>" for r in regios.values())
    return (f'<form method="get"><label>regio <select name="regio">{opties}</select></label>'
            f'<label>peildatum <input type="date" name="peildatum" value="{escape(peildatum or "")}">'
            f'</label><label>bekend op <input type="date" name="bekend_op" '
            f'value="{escape(bekend_op or "")}"> (leeg: nu)</label><button>Toon</button></form>')


def _cel(waarde: int | None, segment: str, veld: str, klasse: str = "n") -> str:
    tekst = "n.v.t." if waarde is None else str(waarde)
    return (f'<td class="{klasse}{" nvt" if waarde is None else ""}" data-segment="{segment}" '
            f'data-veld="{veld}">{tekst}</td>')


def _tabel(telling: Telling, tabel_id: str) -> str:
    kop = "".join(f"<th>{k}</th>" for k in KOPPEN.values())
    rijen = "".join(
        f"<tr><th>{escape(s.naam)}</th>"
        + "".join(_cel(getattr(s, veld), s.segment, veld) for veld in KOPPEN) + "</tr>"
        for s in telling.segmenten)
    return (f'<table id="{tabel_id}"><tr><th>segment</th>{kop}</tr>{rijen}</table>'
            f'<p>unieke jeugdigen in totaal: <span id="totaal">{telling.totaal_unieke_jeugdigen}'
            f'</span>; toewijzingen zonder segment: {telling.unmapped_toewijzingen}</p>')


def _gemeenten(regio: Regio, tellingen: list[Telling]) -> str:
    kop = "".join(f"<th>{escape(s.naam)}</th>" for s in regio.segmenten)
    rijen = []
    uitgesloten = {s.id: s.uitgesloten_gemeenten for s in regio.segmenten}
    for t in sorted(tellingen, key=lambda t: regio.gemeenten[t.gemeente or ""]):
        cellen = "".join(
            '<td class="n nvt">uitgesloten</td>' if t.gemeente in uitgesloten[s.segment] else
            f'<td class="n">{"n.v.t." if s.instroom is None else s.instroom} / '
            f'{"n.v.t." if s.uitstroom is None else s.uitstroom} / {s.in_zorg}</td>'
            for s in t.segmenten)
        rijen.append(f"<tr><th>{escape(regio.gemeenten[t.gemeente or ''])}</th>{cellen}</tr>")
    return f'<table id="gemeenten"><tr><th>gemeente</th>{kop}</tr>{"".join(rijen)}</table>'


def _grafiek(regio: Regio, segment, reeks) -> str:
    punten = [m for m in reeks if m.segment == segment.id]
    breed, hoog, links, onder = 520, 180, 40, 30
    hoogste = max([1, *(m.instroom or 0 for m in punten), *(m.uitstroom or 0 for m in punten)])
    stap = (breed - links - 10) / max(len(punten) - 1, 1)

    def y(waarde: int | None) -> float:
        return hoog - onder - (waarde or 0) / hoogste * (hoog - onder - 10)

    def lijn(veld: str, kleur: str) -> str:
        xy = " ".join(f"{links + i * stap:.1f},{y(getattr(m, veld)):.1f}" for i, m in enumerate(punten))
        return f'<polyline fill="none" stroke="{kleur}" stroke-width="2" points="{xy}"/>'

    labels = "".join(
        f'<text x="{links + i * stap:.1f}" y="{hoog - 10}" font-size="10" text-anchor="middle">'
        f"{m.maand}</text>" for i, m in enumerate(punten) if i % 3 == 0)
    return (f'<figure data-segment="{segment.id}"><figcaption>{escape(segment.naam)}: '
            f'<span style="color:#1f5fbf">instroom</span> en <span style="color:#c0392b">'
            f'uitstroom</span> per maand</figcaption><svg width="{breed}" height="{hoog}" '
            f'role="img" aria-label="trend {escape(segment.naam)}">'
            f'<line x1="{links}" y1="{hoog - onder}" x2="{breed}" y2="{hoog - onder}" stroke="#999"/>'
            f'<text x="2" y="14" font-size="10">{hoogste}</text>'
            f'<text x="2" y="{hoog - onder}" font-size="10">0</text>'
            f'{lijn("instroom", "#1f5fbf")}{lijn("uitstroom", "#c0392b")}{labels}</svg></figure>')


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
                klasse = "plus" if nieuw > oud else "min" if nieuw < oud else ""
                teken = f" ({nieuw - oud:+d})" if nieuw != oud else ""
                cellen.append(f'<td class="n {klasse}" data-segment="{a.segment}" '
                              f'data-veld="{veld}">{oud} → {nieuw}{teken}</td>')
        rijen.append(f"<tr><th>{escape(a.naam)}</th>{''.join(cellen)}</tr>")
    return f'<table id="verschil"><tr><th>segment</th>{kop}</tr>{"".join(rijen)}</table>'


def _wijzigingen(wijzigingen) -> str:
    if not wijzigingen:
        return "<p>Geen toewijzingen veranderd tussen toen en nu.</p>"
    rijen = "".join(
        f"<tr><td>{escape(w.client[:12])}</td><td>{w.gemeentecode}:{w.toewijzingnummer}</td>"
        f"<td>{escape(w.segment or '-')}</td><td>{escape(w.oud)}</td><td>{escape(w.nieuw)}</td>"
        f"<td>{escape(w.oorzaak)}</td></tr>" for w in wijzigingen[:200])
    meer = f"<p>en nog {len(wijzigingen) - 200} meer</p>" if len(wijzigingen) > 200 else ""
    return (f'<p>{len(wijzigingen)} toewijzingen verklaren het verschil:</p><table id="wijzigingen">'
            "<tr><th>jeugdige (pseudoniem)</th><th>toewijzing</th><th>segment</th><th>toen</th>"
            f"<th>nu</th><th>veroorzaakt door bericht</th></tr>{rijen}</table>{meer}")
