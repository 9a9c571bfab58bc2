"""Region configuration: which gemeenten buy together, their segments, product rules and tariffs.

A region is configuration, not code (DOMAIN.md, Regions and segments). Files are TOML (they
allow comments, so every assumption can sit next to the rule it explains), validated with
pydantic when loaded. The shipped regions live in `projections/regios/`; others are added
with JEUGDSTROOM_REGION_CONFIGS or `--region-config FILE`.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from functools import cached_property
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from events.gemeenten import Gemeente, GemeenteRegister

SHIPPED = Path(__file__).parent / "regios"

CATEGORIEEN = {
    "40": "Persoonlijke verzorging", "41": "Dagbehandeling", "42": "Vervoer",
    "43": "Verblijf incl. behandeling", "44": "Verblijf excl. behandeling", "45": "Ambulant",
    "46": "Crisis", "47": "Jeugdreclassering", "48": "Jeugdbescherming",
    "49": "Preventief justitieel", "50": "Maatwerk", "51": "Generalistische basis-ggz",
    "52": "Specialistische ggz", "53": "Kindergeneeskunde", "54": "Jeugd-ggz",
    "55": "Landelijk ingekocht",
}


# iJw Eenheid (basisschema LDT_Eenheid). 83 (euro's) needs no tariff: a euro is 100 eurocent.
EENHEDEN = {"01": "minuut", "04": "uur", "14": "etmaal", "16": "dagdeel (4 uur)",
            "82": "stuks (output)", "84": "stuks (inspanning)"}
EENHEID_EURO = "83"
EURO_IN_CENT = 100


class RegioConfigError(ValueError):
    """A region file is wrong; the message names the file, the field and what to write."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProductRegel(_Model):
    """Maps products to a segment: by categorie, code prefix or exact code, optionally per
    gemeente and for a period of allocation start dates (contracts change)."""

    categorie: str | None = None
    prefix: str | None = None
    code: str | None = None
    gemeenten: tuple[str, ...] = ()
    geldig_vanaf: date | None = None
    geldig_tot: date | None = None  # inclusive

    @model_validator(mode="after")
    def _een_criterium(self) -> ProductRegel:
        if not (self.categorie or self.prefix or self.code):
            raise ValueError("a rule needs categorie, prefix or code")
        if self.geldig_vanaf and self.geldig_tot and self.geldig_tot < self.geldig_vanaf:
            raise ValueError("geldig_tot lies before geldig_vanaf")
        return self

    @property
    def specificiteit(self) -> tuple[int, int, int]:
        """Exact code beats a prefix (a longer prefix beats a shorter one) beats a categorie;
        at equal product precision a rule for named gemeenten beats one for all."""
        if self.code:
            rang, lengte = 3, len(self.code)
        elif self.prefix:
            rang, lengte = 2, len(self.prefix)
        else:
            rang, lengte = 1, 0
        return rang, lengte, 1 if self.gemeenten else 0

    def past(self, gemeentecode: str, categorie: str | None, code: str | None, op: date) -> bool:
        if self.gemeenten and gemeentecode not in self.gemeenten:
            return False
        if (self.geldig_vanaf and op < self.geldig_vanaf) or (self.geldig_tot and op > self.geldig_tot):
            return False
        if self.categorie and categorie != self.categorie:
            return False
        if self.prefix and not (code or "").startswith(self.prefix):
            return False
        return not (self.code and code != self.code)


class TariefRegel(ProductRegel):
    """A contracted price: eurocent per Eenheid for the products of one code, prefix or
    categorie, optionally per gemeente and for a period of allocation start dates. The most
    specific matching tariff wins, exactly as the product rules pick a segment."""

    eenheid: str
    tarief: int = Field(gt=0)  # eurocent per eenheid

    @field_validator("eenheid", mode="before")
    @classmethod
    def _eenheid_code(cls, eenheid: object) -> object:
        if eenheid == EENHEID_EURO:
            raise ValueError("eenheid 83 (euro's) needs no tariff: its value is Volume x 100 "
                             "eurocent; remove this tariff")
        if eenheid not in EENHEDEN:
            codes = ", ".join(f'"{code}" {naam}' for code, naam in EENHEDEN.items())
            raise ValueError(f"eenheid is a quoted iJw Eenheid code ({codes}), not {eenheid!r}")
        return eenheid

    @field_validator("tarief", mode="before")
    @classmethod
    def _eurocent(cls, tarief: object) -> object:
        if not isinstance(tarief, int) or isinstance(tarief, bool):
            raise ValueError(f"tarief is a whole number of eurocent (12,50 euro: tarief = 1250), "
                             f"not {tarief!r}")
        return tarief

    @model_validator(mode="after")
    def _precies_een_criterium(self) -> TariefRegel:
        gegeven = [naam for naam in ("code", "prefix", "categorie") if getattr(self, naam)]
        if len(gegeven) != 1:
            raise ValueError(f"a tariff names exactly one of code, prefix or categorie, not "
                             f"{' and '.join(gegeven)}")
        return self

    @property
    def criterium(self) -> tuple[object, ...]:
        """What the tariff applies to, apart from its period: two tariffs with the same
        criterium must not be valid on the same date."""
        return self.categorie, self.prefix, self.code, frozenset(self.gemeenten), self.eenheid


class Segment(_Model):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    naam: str
    flow: bool = True  # False: no flow figures, shown as n.v.t. (not 0)
    uitgesloten_gemeenten: tuple[str, ...] = ()
    regels: tuple[ProductRegel, ...]


class Regio(_Model):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    naam: str
    gemeenten: dict[str, str]  # CBS code -> name
    history_start: date
    n: int = Field(default=14, ge=0)
    m: int = Field(default=180, ge=1)
    min_cel: int = Field(default=10, ge=1)
    declaratie_termijn: int = Field(default=90, ge=0)  # days; see toewijzingen zonder declaratie
    start_termijn: int = Field(default=30, ge=0)  # days; see toegewezen, niet gestart
    segmenten: tuple[Segment, ...]
    tarieven: tuple[TariefRegel, ...] = ()

    @field_validator("gemeenten")
    @classmethod
    def _cbs_codes(cls, gemeenten: dict[str, str]) -> dict[str, str]:
        wrong = [code for code in gemeenten if not (len(code) == 4 and code.isdigit())]
        if wrong:
            raise ValueError(f"gemeentecodes are 4-digit CBS codes (quoted), not {wrong}")
        return gemeenten

    @model_validator(mode="after")
    def _consistent(self) -> Regio:
        if self.n >= self.m:
            raise ValueError(f"n ({self.n}) must be smaller than m ({self.m})")
        ids = [s.id for s in self.segmenten]
        if len(set(ids)) != len(ids):
            raise ValueError(f"segment ids must be unique: {ids}")
        for segment in self.segmenten:
            vreemd = set(segment.uitgesloten_gemeenten).union(
                *(r.gemeenten for r in segment.regels)) - set(self.gemeenten)
            if vreemd:
                raise ValueError(
                    f"segment {segment.id} names gemeenten outside the region: {sorted(vreemd)}")
        for i, tarief in enumerate(self.tarieven):
            vreemd = set(tarief.gemeenten) - set(self.gemeenten)
            if vreemd:
                raise ValueError(f"tarieven[{i}] names gemeenten outside the region: {sorted(vreemd)}")
            for j in range(i):
                ander = self.tarieven[j]
                if ander.criterium == tarief.criterium and _overlappen(ander, tarief):
                    raise ValueError(
                        f"tarieven[{j}] and tarieven[{i}] both price the same product and eenheid "
                        f"{tarief.eenheid} on the same allocation start dates: give them "
                        "geldig_vanaf/geldig_tot that do not overlap")
        return self

    @cached_property
    def _regels(self) -> list[tuple[ProductRegel, Segment]]:
        return _meest_specifiek_eerst([(r, s) for s in self.segmenten for r in s.regels])

    @cached_property
    def _tarieven(self) -> dict[str, list[tuple[TariefRegel, int]]]:
        per_eenheid: dict[str, list[tuple[TariefRegel, int]]] = defaultdict(list)
        for regel in self.tarieven:
            per_eenheid[regel.eenheid].append((regel, regel.tarief))
        return {eenheid: _meest_specifiek_eerst(paren) for eenheid, paren in per_eenheid.items()}

    def segment_voor(
        self, gemeentecode: str, categorie: str | None, code: str | None, start: date
    ) -> Segment | None:
        """The segment of a product on the allocation's start date (None: unmapped)."""
        return _eerste_passende(self._regels, gemeentecode, categorie, code, start)

    def tarief_voor(
        self, gemeentecode: str, categorie: str | None, code: str | None, eenheid: str | None,
        op: date,
    ) -> int | None:
        """Eurocent per eenheid for a product on the allocation's start date `op` (None: the
        region has no tariff for it). Eenheid 83 (euro's) is 100 eurocent by definition."""
        if eenheid == EENHEID_EURO:
            return EURO_IN_CENT
        return _eerste_passende(self._tarieven.get(eenheid or "", []), gemeentecode, categorie, code, op)

    def segment(self, segment_id: str) -> Segment:
        for segment in self.segmenten:
            if segment.id == segment_id:
                return segment
        raise KeyError(segment_id)

    def window_waarschuwing(self, van: date) -> str | None:
        """Inflow near history_start looks like instroom (its predecessor is not in the data)."""
        if van < self.history_start + timedelta(days=self.m):
            vanaf = self.history_start + timedelta(days=self.m)
            return (f"instroom kan te hoog zijn: de gegevens van {self.naam} beginnen op "
                    f"{self.history_start.isoformat()}, dus van een jeugdige die toen al zorg had "
                    "is de eerdere toewijzing niet bekend en telt de nieuwe als instroom; "
                    f"cijfers vanaf {vanaf.isoformat()} hebben daar geen last van")
        return None


_R = TypeVar("_R", bound=ProductRegel)
_T = TypeVar("_T")


def _meest_specifiek_eerst(paren: list[tuple[_R, _T]]) -> list[tuple[_R, _T]]:
    """Most specific rule first; at equal specificity the order of the file decides."""
    return sorted(paren, key=lambda pair: pair[0].specificiteit, reverse=True)


def _eerste_passende(
    paren: Sequence[tuple[_R, _T]], gemeentecode: str, categorie: str | None, code: str | None,
    op: date,
) -> _T | None:
    for regel, waarde in paren:
        if regel.past(gemeentecode, categorie, code, op):
            return waarde
    return None


def _overlappen(a: ProductRegel, b: ProductRegel) -> bool:
    return ((a.geldig_vanaf or date.min) <= (b.geldig_tot or date.max)
            and (b.geldig_vanaf or date.min) <= (a.geldig_tot or date.max))


def lees_regio(path: Path) -> Regio:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise RegioConfigError(f"{path}: cannot read the region file ({error.strerror})") from None
    except tomllib.TOMLDecodeError as error:
        raise RegioConfigError(f"{path}: not valid TOML: {error}") from None
    try:
        return Regio.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'file'}: {e['msg']}" for e in error.errors())
        raise RegioConfigError(f"{path}: {problems}") from None


def laad_regios(extra: Iterable[Path] = ()) -> dict[str, Regio]:
    """The shipped regions plus the given files; a later file with the same id replaces one."""
    regios: dict[str, Regio] = {}
    for path in [*sorted(SHIPPED.glob("*.toml")), *extra]:
        regio = lees_regio(path)
        regios[regio.id] = regio
    return regios


def regio_id(jeugdzorgregio: str) -> str:
    """A CBS jeugdzorgregio's name as a region id: `Zuid-Oost Brabant` -> `zuid-oost-brabant`."""
    return re.sub(r"[^a-z0-9]+", "-", jeugdzorgregio.lower()).strip("-")


def regios_uit_cbs(register: GemeenteRegister) -> dict[str, str]:
    """A starting configuration per CBS jeugdzorgregio: its gemeenten, a segment per product
    categorie (JZ020), to be refined by the region. Returns file name -> TOML text, each
    checked by loading it back."""
    per_regio: dict[str, list[Gemeente]] = defaultdict(list)
    for gemeente in register.actueel().values():
        per_regio[gemeente.jeugdzorgregio].append(gemeente)
    lijst = register.lijsten[-1].geldig_vanaf
    bestanden = {}
    for naam, gemeenten in sorted(per_regio.items()):
        regels = [
            f"# {naam}: the gemeenten of CBS jeugdzorgregio '{naam}' (CBS list of {lijst}).",
            "# Generated by `jeugdstroom regions from-cbs`: one segment per product categorie.",
            "# TO REFINE: merge categories into the region's own segments, set flow = false",
            "# for lump-sum segments, add exclusions, and set history_start to the date from",
            "# which the region's data is complete (now: the date of the CBS list), and add",
            "# the contracted tariffs as [[tarieven]] (code/prefix/categorie, eenheid, tarief).",
            f'id = "{regio_id(naam)}"',
            f"naam = {json.dumps(naam, ensure_ascii=False)}",
            f"history_start = {lijst.isoformat()}",
            "n = 14", "m = 180", "min_cel = 10", "declaratie_termijn = 90", "start_termijn = 30",
            "", "[gemeenten]",
            *(f'"{g.code}" = {json.dumps(g.naam, ensure_ascii=False)}'
              for g in sorted(gemeenten, key=lambda g: g.code)),
        ]
        for categorie, omschrijving in CATEGORIEEN.items():
            regels += ["", "[[segmenten]]", f'id = "categorie-{categorie}"',
                       f'naam = "{omschrijving}"', f'regels = [{{ categorie = "{categorie}" }}]']
        tekst = "\n".join(regels) + "\n"
        Regio.model_validate(tomllib.loads(tekst))
        bestanden[regio_id(naam)] = tekst
    return bestanden
