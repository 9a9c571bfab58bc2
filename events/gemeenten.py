"""The CBS list of gemeenten, per year: which gemeentecodes exist on a date, and their region.

CBS publishes "Gemeentelijke indeling op 1 januari JJJJ" each year; a file named
`...-JJJJ.csv` is taken to hold from 1 January JJJJ until the next file. A date before the
oldest file is checked against the oldest file: we have no older list, and rejecting every
older message would lose real traffic (written down in the README as an assumption).

The lists ship with the package (`events/data/`, see its README); `werk_bij` adds a year.
"""

from __future__ import annotations

import csv
import os
import re
import tempfile
from bisect import bisect_right
from dataclasses import dataclass
from datetime import date
from pathlib import Path

_YEAR = re.compile(r"(\d{4})\D*$")
DATA_DIR = Path(__file__).resolve().parent / "data"
KOLOMMEN = ("gemeentecode", "gemeentenaam", "provincie", "jeugdzorgregio")


@dataclass(frozen=True)
class Gemeente:
    code: str
    naam: str
    provincie: str
    jeugdzorgregio: str


class GemeenteRegisterError(ValueError):
    """A CBS file could not be used; the message names the file and what to fix."""


@dataclass(frozen=True)
class GemeenteLijst:
    geldig_vanaf: date
    gemeenten: dict[str, Gemeente]


class GemeenteRegister:
    """Gemeentecodes valid per date, from one or more yearly CBS lists."""

    def __init__(self, lijsten: list[GemeenteLijst]) -> None:
        if not lijsten:
            raise GemeenteRegisterError(
                "no CBS list of gemeenten: none shipped in events/data (reinstall jeugdstroom) and "
                "none configured; set JEUGDSTROOM_GEMEENTEN_FILES to a JSON list of CSV files "
                'such as ["cbs-gemeenten-2026.csv"]'
            )
        self.lijsten = sorted(lijsten, key=lambda lijst: lijst.geldig_vanaf)
        self._vanaf = [lijst.geldig_vanaf for lijst in self.lijsten]

    @classmethod
    def from_csv(cls, paths: list[Path]) -> GemeenteRegister:
        return cls([_read(path) for path in paths])

    def lijst_op(self, datum: date) -> GemeenteLijst:
        index = bisect_right(self._vanaf, datum) - 1
        return self.lijsten[max(index, 0)]

    def gemeente(self, code: str, op: date) -> Gemeente | None:
        return self.lijst_op(op).gemeenten.get(code)

    def actueel(self) -> dict[str, Gemeente]:
        return self.lijsten[-1].gemeenten


def _read(path: Path) -> GemeenteLijst:
    match = _YEAR.search(path.stem)
    if not match:
        raise GemeenteRegisterError(
            f"{path}: the file name must end in the year of the list, e.g. cbs-gemeenten-2026.csv"
        )
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as error:
        raise GemeenteRegisterError(f"{path}: cannot read the CBS list ({error.strerror})") from None
    required = set(KOLOMMEN)
    if not rows or not required <= set(rows[0]):
        raise GemeenteRegisterError(f"{path}: expected the columns {', '.join(sorted(required))}")
    gemeenten = {
        row["gemeentecode"].zfill(4): Gemeente(
            code=row["gemeentecode"].zfill(4),
            naam=row["gemeentenaam"],
            provincie=row["provincie"],
            jeugdzorgregio=row["jeugdzorgregio"],
        )
        for row in rows
    }
    return GemeenteLijst(geldig_vanaf=date(int(match.group(1)), 1, 1), gemeenten=gemeenten)


def meegeleverde_lijsten() -> list[Path]:
    """The CBS lists shipped in the package, oldest first."""
    return sorted(DATA_DIR.glob("cbs-gemeenten-*.csv"))


def _jaar(path: Path) -> int | None:
    match = _YEAR.search(path.stem)
    return int(match.group(1)) if match else None


def lijsten_per_jaar(geconfigureerd: list[Path], meegeleverd: list[Path]) -> list[Path]:
    """The configured lists, plus the shipped list of every year that none of them covers.

    A configured list replaces the shipped one of its year (a correction, or a test's own
    list); a file name without a year is kept, so that reading it says what is wrong."""
    jaren = {_jaar(path) for path in geconfigureerd}
    return [*geconfigureerd, *(path for path in meegeleverd if _jaar(path) not in jaren)]


def werk_bij(bron: Path, doel_dir: Path, jaar: int | None = None) -> Path:
    """Check a CBS list of gemeenten and write it as `doel_dir/cbs-gemeenten-JJJJ.csv`.

    `bron` has the columns gemeentecode, gemeentenaam, provincie and jeugdzorgregio (codes
    as 0935 or GM0935); `jaar` is the year of the list, by default the year that ends the
    file name. Nothing is written unless every row is usable; returns the written file.
    """
    jaar = jaar if jaar is not None else _jaar(bron)
    if jaar is None:
        raise GemeenteRegisterError(
            f"{bron}: say which year the list is of, or end the file name in it "
            "(e.g. cbs-gemeenten-2027.csv)"
        )
    if jaar < 2015:
        raise GemeenteRegisterError(f"{bron}: {jaar} lies before the iJw standard (2015)")
    try:
        with bron.open(newline="", encoding="utf-8-sig") as handle:
            kop, *rijen = list(csv.reader(handle)) or [[]]
    except OSError as error:
        raise GemeenteRegisterError(f"{bron}: cannot read the CBS list ({error.strerror})") from None
    except (UnicodeDecodeError, csv.Error) as error:
        raise GemeenteRegisterError(f"{bron}: not a UTF-8 CSV file ({error})") from None
    kolommen = [k.strip().lower() for k in kop]
    ontbreekt = [k for k in KOLOMMEN if k not in kolommen]
    if ontbreekt:
        raise GemeenteRegisterError(
            f"{bron}: the columns {', '.join(ontbreekt)} are missing; expected {','.join(KOLOMMEN)}"
        )
    index = [kolommen.index(k) for k in KOLOMMEN]
    gemeenten: dict[str, list[str]] = {}
    problemen: list[str] = []
    for regel, rij in enumerate(rijen, start=2):
        if not any(w.strip() for w in rij):
            continue
        waarden = [rij[i].strip() if i < len(rij) else "" for i in index]
        code = re.sub(r"^GM", "", waarden[0], flags=re.IGNORECASE).zfill(4)
        if not re.fullmatch(r"\d{4}", code):
            problemen.append(f"line {regel}: gemeentecode '{waarden[0]}' is not a 4-digit CBS code")
        elif code in gemeenten:
            problemen.append(f"line {regel}: gemeentecode {code} appears twice")
        elif not all(waarden[1:]):
            leeg = ", ".join(k for k, w in zip(KOLOMMEN[1:], waarden[1:], strict=True) if not w)
            problemen.append(f"line {regel}: gemeentecode {code} has no {leeg}")
        else:
            gemeenten[code] = [code, *waarden[1:]]
    if problemen:
        meer = f" (and {len(problemen) - 5} more)" if len(problemen) > 5 else ""
        raise GemeenteRegisterError(f"{bron}: {'; '.join(problemen[:5])}{meer}; nothing written")
    if not gemeenten:
        raise GemeenteRegisterError(f"{bron}: the list has no gemeenten; nothing written")
    doel_dir.mkdir(parents=True, exist_ok=True)
    doel = doel_dir / f"cbs-gemeenten-{jaar}.csv"
    fd, tijdelijk = tempfile.mkstemp(dir=doel_dir, prefix=".cbs-gemeenten-", suffix=".csv")
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as handle:
            schrijver = csv.writer(handle)  # RFC 4180 line ends, as CBS publishes
            schrijver.writerow(KOLOMMEN)
            schrijver.writerows(gemeenten.values())
        os.chmod(tijdelijk, 0o644)
        os.replace(tijdelijk, doel)
    except BaseException:
        Path(tijdelijk).unlink(missing_ok=True)
        raise
    return doel
