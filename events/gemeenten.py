"""The CBS list of gemeenten, per year: which gemeentecodes exist on a date, and their region.

CBS publishes "Gemeentelijke indeling op 1 januari JJJJ" each year; a file named
`...-JJJJ.csv` is taken to hold from 1 January JJJJ until the next file. A date before the
oldest file is checked against the oldest file: we have no older list, and rejecting every
older message would lose real traffic (written down in the README as an assumption).
"""

from __future__ import annotations

import csv
import re
from bisect import bisect_right
from dataclasses import dataclass
from datetime import date
from pathlib import Path

_YEAR = re.compile(r"(\d{4})\D*$")


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
                "no CBS list of gemeenten configured: set JEUGDSTROOM_GEMEENTEN_FILES to a JSON "
                'list of CSV files such as ["cbs-gemeenten-2026.csv"]'
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
    required = {"gemeentecode", "gemeentenaam", "provincie", "jeugdzorgregio"}
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
