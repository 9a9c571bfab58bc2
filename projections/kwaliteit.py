"""The data-quality report: findings per rule, gemeente, provider and month, with their shares.

Pure functions over plain rows (the stored findings of `ijw_bevinding`, the messages counted
per month in `ijw_bericht_telling`, and the cross-message findings of the read side), so the
CLI, the API and the dashboard page give one answer and the tests need no database.

A share is the number of messages with a finding of a rule over the messages that rule
applies to (its message types, in the same scope); for the cross-message rules (code `JS..`)
it is over what they examine: declaration lines, or toewijzingen.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from events.kwaliteit import REGELS

# Rules over more than one message, decided on the read side (the flow and money views).
KRUISREGELS: dict[str, str] = {
    "JS01": "JW323-regel voor een onbekende of verwijderde toewijzing",
    "JS02": "JW323-regel meer dan 12 maanden na de ProductPeriode gedeclareerd",
    "JS03": "JW301 meer dan 30 dagen na de Ingangsdatum (met terugwerkende kracht)",
    "JS04": "JW305-start voor een onbekende of verwijderde toewijzing",
}
MAX_SEQS = 20  # stream sequences listed per rule for the drill-down


class Bevindingrij(Protocol):
    @property
    def stream_seq(self) -> int: ...
    @property
    def regel(self) -> str: ...
    @property
    def pad(self) -> str: ...
    @property
    def bericht(self) -> str: ...
    @property
    def gemeente(self) -> str: ...
    @property
    def aanbieder(self) -> str: ...
    @property
    def dagtekening(self) -> date: ...


class Telling(Protocol):
    @property
    def gemeente(self) -> str: ...
    @property
    def aanbieder(self) -> str: ...
    @property
    def bericht(self) -> str: ...
    @property
    def maand(self) -> date: ...
    @property
    def aantal(self) -> int: ...


def maand(dag: date) -> str:
    return f"{dag.year:04d}-{dag.month:02d}"


def aandeel(teller: int, noemer: int) -> float | None:
    """The share as a percentage with one decimal (None when nothing was examined)."""
    return round(100 * teller / noemer, 1) if noemer else None


@dataclass
class Regelcijfer:
    regel: str
    berichten: int  # messages (or, for JS rules, lines or toewijzingen) with this finding
    onderzocht: int  # what the rule applies to in scope
    aandeel: float | None
    per_maand: dict[str, int] = field(default_factory=dict)
    per_gemeente: dict[str, int] = field(default_factory=dict)
    per_aanbieder: dict[str, int] = field(default_factory=dict)
    stream_seqs: list[int] = field(default_factory=list)  # the first MAX_SEQS, for drill-down


@dataclass
class Partijcijfer:
    """One gemeente or provider: its messages, those with a finding, and its worst rule."""

    code: str
    berichten: int
    met_bevinding: int
    aandeel: float | None
    ergste_regel: str | None


@dataclass
class Maandcijfer:
    maand: str
    berichten: int
    met_bevinding: int
    aandeel: float | None


@dataclass
class Kwaliteitsrapport:
    berichten: int
    met_bevinding: int
    aandeel: float | None
    regels: list[Regelcijfer]
    gemeenten: list[Partijcijfer]
    aanbieders: list[Partijcijfer]
    maanden: list[Maandcijfer]


def _partijen(berichten: Mapping[str, int], met: Mapping[str, set[int]],
              per_regel: Mapping[str, Mapping[str, int]]) -> list[Partijcijfer]:
    rijen = []
    for code in sorted(set(berichten) | set(met)):
        regels = {r: n for r, n in per_regel.get(code, {}).items()}
        ergste = max(sorted(regels), key=lambda r: regels[r]) if regels else None
        rijen.append(Partijcijfer(code, berichten.get(code, 0), len(met.get(code, ())),
                                  aandeel(len(met.get(code, ())), berichten.get(code, 0)), ergste))
    rijen.sort(key=lambda p: (-(p.aandeel or 0.0), -p.met_bevinding, p.code))
    return rijen


def rapport(bevindingen: Iterable[Bevindingrij], tellingen: Iterable[Telling],
            kruis: Iterable[Bevindingrij] = (), kruis_onderzocht: Mapping[str, int] | None = None,
            ) -> Kwaliteitsrapport:
    """The report over findings and message counts of one scope (worst rules first).

    `kruis`: cross-message findings (stream_seq 0, `pad` names the line or toewijzing);
    `kruis_onderzocht`: per JS rule how many lines or toewijzingen it examined."""
    per_type: dict[str, int] = defaultdict(int)
    per_gemeente: dict[str, int] = defaultdict(int)
    per_aanbieder: dict[str, int] = defaultdict(int)
    per_maand: dict[str, int] = defaultdict(int)
    for t in tellingen:
        per_type[t.bericht] += t.aantal
        per_gemeente[t.gemeente] += t.aantal
        per_aanbieder[t.aanbieder] += t.aantal
        per_maand[maand(t.maand)] += t.aantal

    items: dict[str, set[object]] = defaultdict(set)
    regel_maand: dict[str, dict[str, set[object]]] = defaultdict(lambda: defaultdict(set))
    regel_gemeente: dict[str, dict[str, set[object]]] = defaultdict(lambda: defaultdict(set))
    regel_aanbieder: dict[str, dict[str, set[object]]] = defaultdict(lambda: defaultdict(set))
    gemeente_met: dict[str, set[int]] = defaultdict(set)
    aanbieder_met: dict[str, set[int]] = defaultdict(set)
    maand_met: dict[str, set[int]] = defaultdict(set)
    alle_met: set[int] = set()
    for b in bevindingen:
        sleutel = b.stream_seq
        items[b.regel].add(sleutel)
        regel_maand[b.regel][maand(b.dagtekening)].add(sleutel)
        regel_gemeente[b.regel][b.gemeente].add(sleutel)
        regel_aanbieder[b.regel][b.aanbieder].add(sleutel)
        gemeente_met[b.gemeente].add(sleutel)
        aanbieder_met[b.aanbieder].add(sleutel)
        maand_met[maand(b.dagtekening)].add(sleutel)
        alle_met.add(sleutel)
    for k in kruis:  # other messages than the ones counted: they have no share of their own
        kruissleutel = (k.regel, k.gemeente, k.aanbieder, k.pad)
        items[k.regel].add(kruissleutel)
        regel_maand[k.regel][maand(k.dagtekening)].add(kruissleutel)
        regel_gemeente[k.regel][k.gemeente].add(kruissleutel)
        regel_aanbieder[k.regel][k.aanbieder].add(kruissleutel)

    onderzocht_kruis = kruis_onderzocht or {}
    regels = []
    for regel, gevonden in items.items():
        if regel in REGELS:
            onderzocht = sum(per_type[t] for t in REGELS[regel][0])
        else:
            onderzocht = onderzocht_kruis.get(regel, 0)
        regels.append(Regelcijfer(
            regel, len(gevonden), onderzocht, aandeel(len(gevonden), onderzocht),
            per_maand={m: len(s) for m, s in sorted(regel_maand[regel].items())},
            per_gemeente={g: len(s) for g, s in sorted(regel_gemeente[regel].items())},
            per_aanbieder={a: len(s) for a, s in sorted(regel_aanbieder[regel].items())},
            stream_seqs=sorted(s for s in gevonden if isinstance(s, int))[:MAX_SEQS],
        ))
    regels.sort(key=lambda r: (-(r.aandeel or 0.0), -r.berichten, r.regel))

    def per_partij(soort: dict[str, dict[str, set[object]]]) -> dict[str, dict[str, int]]:
        uit: dict[str, dict[str, int]] = defaultdict(dict)
        for regel, partijen in soort.items():
            for partij, s in partijen.items():
                uit[partij][regel] = len(s)
        return uit

    berichten = sum(per_type.values())
    return Kwaliteitsrapport(
        berichten=berichten,
        met_bevinding=len(alle_met),
        aandeel=aandeel(len(alle_met), berichten),
        regels=regels,
        gemeenten=_partijen(per_gemeente, gemeente_met, per_partij(regel_gemeente)),
        aanbieders=_partijen(per_aanbieder, aanbieder_met, per_partij(regel_aanbieder)),
        maanden=[Maandcijfer(m, per_maand.get(m, 0), len(maand_met.get(m, ())),
                             aandeel(len(maand_met.get(m, ())), per_maand.get(m, 0)))
                 for m in sorted(set(per_maand) | set(maand_met))],
    )


def als_json(r: Kwaliteitsrapport) -> dict[str, object]:
    """The report's public form (English keys, as the other outputs)."""
    def partij(p: Partijcijfer) -> dict[str, object]:
        return {"code": p.code, "messages": p.berichten, "with_finding": p.met_bevinding,
                "share_pct": p.aandeel, "worst_rule": p.ergste_regel}

    return {
        "messages": r.berichten, "with_finding": r.met_bevinding, "share_pct": r.aandeel,
        "rules": [{"rule": g.regel, "with_finding": g.berichten, "examined": g.onderzocht,
                   "share_pct": g.aandeel, "per_month": g.per_maand,
                   "per_gemeente": g.per_gemeente, "per_aanbieder": g.per_aanbieder,
                   "stream_seqs": g.stream_seqs} for g in r.regels],
        "gemeenten": [partij(p) for p in r.gemeenten],
        "aanbieders": [partij(p) for p in r.aanbieders],
        "months": [{"month": m.maand, "messages": m.berichten, "with_finding": m.met_bevinding,
                    "share_pct": m.aandeel} for m in r.maanden],
    }


CSV_KOP = ("section", "key", "with_finding", "examined", "share_pct", "worst_rule",
           "stream_seqs")


def als_csv_rijen(r: Kwaliteitsrapport) -> list[list[object]]:
    """One row per rule, gemeente, provider and month (the `section` column says which)."""
    rijen: list[list[object]] = []
    for g in r.regels:
        rijen.append(["rule", g.regel, g.berichten, g.onderzocht, _leeg(g.aandeel), "",
                      " ".join(map(str, g.stream_seqs))])
    for soort, partijen in (("gemeente", r.gemeenten), ("aanbieder", r.aanbieders)):
        for p in partijen:
            rijen.append([soort, p.code, p.met_bevinding, p.berichten, _leeg(p.aandeel),
                          p.ergste_regel or "", ""])
    for m in r.maanden:
        rijen.append(["month", m.maand, m.met_bevinding, m.berichten, _leeg(m.aandeel), "", ""])
    return rijen


def _leeg(waarde: object) -> object:
    return "" if waarde is None else waarde


def samenvatting(r: Kwaliteitsrapport, namen: Mapping[str, str]) -> list[str]:
    """A few lines per gemeente: its share of messages with a finding and its worst rule."""
    regels = [f"datakwaliteit: {r.met_bevinding} van {r.berichten} berichten met een bevinding"
              f" ({_procent(r.aandeel)})"]
    for p in r.gemeenten:
        ergste = f", meest: {p.ergste_regel}" if p.ergste_regel else ""
        regels.append(f"  {namen.get(p.code, p.code)} ({p.code}): {p.met_bevinding} van "
                      f"{p.berichten} ({_procent(p.aandeel)}){ergste}")
    return regels


def _procent(waarde: float | None) -> str:
    return "n.v.t." if waarde is None else f"{waarde:.1f}%"
