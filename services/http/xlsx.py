"""An exported table as an Excel workbook (openpyxl): the header block on top, then the table
with its column names in bold, then the footer; whole numbers stay numbers."""

from __future__ import annotations

import io

from openpyxl import Workbook
from openpyxl.styles import Font

from projections.vragen import Uitvoer

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def als_xlsx(uitvoer: Uitvoer) -> bytes:
    boek = Workbook()
    blad = boek.active
    assert blad is not None  # a new workbook has one sheet
    blad.title = "cijfers"
    for sleutel, waarde in uitvoer.kop:
        blad.append([sleutel, waarde])
        blad.cell(row=blad.max_row, column=1).font = Font(bold=True)
    if uitvoer.kop:
        blad.append([])
    blad.append(uitvoer.kolommen)
    for cel in blad[blad.max_row]:
        cel.font = Font(bold=True)
    for rij in uitvoer.rijen:
        blad.append(["" if w is None else w for w in rij])
    if uitvoer.voet:
        blad.append([])
    for regel in uitvoer.voet:
        blad.append([regel])
    out = io.BytesIO()
    boek.save(out)
    return out.getvalue()
