"""A small hand-made history (worked out by hand from DOMAIN.md) shared by the flow and API tests."""

from __future__ import annotations

from datetime import date, timedelta

from tests.ijw_factory import Toewijzing, jw301

MAASTRICHT, MEERSSEN, HEERLEN = "0935", "0938", "0917"
BSN = {"A": "111222333", "B": "123456782", "C": "999900006", "D": "999900018",
       "E": "100000046", "F": "100000010", "G": "100000022", "H": "100000034"}


def _msg(client: str, gemeente: str, nr: int, product: str, start: date, eind: date | None, *,
         ident: int, dagtekening: date | None = None, reden: str | None = None,
         toegewezen: date | None = None):
    dag = dagtekening or start - timedelta(days=5)
    t = Toewijzing(str(nr), product[:2], product, start, eind, toegewezen or dag, reden=reden)
    data = jw301(gemeente=gemeente, aanbieder="12345678", identificatie=str(ident),
                 dagtekening=dag, client_bsn=BSN[client], toewijzingen=[t])
    return f"ijw.{gemeente}.jw301", data, None


HISTORY = [
    # A, Wonen: T1 ends 28 Feb, T2 starts 5 Mar (Δ = 5): doorstroom; T1 is no uitstroom.
    _msg("A", MAASTRICHT, 1, "43A01", date(2022, 3, 1), date(2023, 2, 28), ident=1),
    _msg("A", MAASTRICHT, 2, "43A01", date(2023, 3, 5), None, ident=2),
    # B, Ambulant: T3 instroom and uitstroom (nothing within 14 days), T4 after 93 days:
    # recidive; T4 ends 20 Dec: uitstroom, provisional while K < 3 Jan 2024.
    _msg("B", MAASTRICHT, 3, "45A01", date(2023, 1, 10), date(2023, 4, 30), ident=3),
    _msg("B", MAASTRICHT, 4, "45A01", date(2023, 8, 1), date(2023, 12, 20), ident=4),
    # C, Ambulant across two gemeenten: T5 (Meerssen) open, T6 (Maastricht) starts while
    # T5 runs: stapeling (Δ = -∞); T6 ends while T5 goes on: no uitstroom.
    _msg("C", MEERSSEN, 5, "45A01", date(2023, 2, 1), None, ident=5),
    _msg("C", MAASTRICHT, 6, "45A01", date(2023, 6, 1), date(2023, 9, 30), ident=6),
    # D: crisis (no flow figures, but a unique child) then Wonen: instroom (other segment).
    _msg("D", MAASTRICHT, 7, "46A01", date(2023, 5, 1), date(2023, 5, 10), ident=7),
    _msg("D", MAASTRICHT, 8, "43A01", date(2023, 5, 11), None, ident=8),
    # E, Wonen: ended 30 Jun 2022, back on 1 Feb 2023 (Δ = 216 > 180): hernieuwde instroom.
    _msg("E", MAASTRICHT, 9, "43A01", date(2021, 1, 1), date(2022, 6, 30), ident=9),
    _msg("E", MAASTRICHT, 10, "43A01", date(2023, 2, 1), None, ident=10),
    # F: ambulant in Heerlen (excluded: nowhere) and a landelijk product (unmapped).
    _msg("F", HEERLEN, 11, "45A01", date(2023, 3, 1), None, ident=11),
    _msg("F", MAASTRICHT, 12, "55A11", date(2023, 4, 1), date(2023, 4, 30), ident=12),
    # G, Wonen: allocated in May, deleted in-band on 1 Jul (RedenWijziging 13).
    _msg("G", MAASTRICHT, 13, "43A01", date(2023, 6, 1), None, ident=13),
    _msg("G", MAASTRICHT, 13, "43A01", date(2023, 6, 1), date(2023, 6, 1), reden="13",
         dagtekening=date(2023, 7, 1), ident=14),
    # H, Wonen: allocated for 2023, shortened to 31 Oct by a version of 15 Jan 2024.
    _msg("H", MAASTRICHT, 15, "43A01", date(2023, 1, 1), date(2023, 12, 31), ident=15),
    _msg("H", MAASTRICHT, 15, "43A01", date(2023, 1, 1), date(2023, 10, 31),
         dagtekening=date(2024, 1, 15), ident=16),
]

FLOW = ["instroom", "stapeling", "doorstroom", "recidive", "hernieuwde_instroom", "uitstroom",
        "uitstroom_voorlopig", "in_zorg", "unieke_jeugdigen"]


def _row(*values):
    return dict(zip(FLOW, values, strict=True))


# as known on 1 Jan 2025: H ends 31 Oct (uitstroom, not in zorg); nothing provisional
EXPECTED_2025 = {
    "gik-j": _row(0, 0, 0, 0, 0, 0, 0, 0, 0),
    "wonen": _row(2, 0, 1, 0, 1, 1, 0, 3, 4),        # instroom D,H; doorstroom A; hernieuwd E
    "ambulant": _row(2, 1, 0, 1, 0, 2, 0, 1, 2),     # instroom B,C; stapeling C; recidive B
    "crisis": _row(None, None, None, None, None, None, None, 0, 1),
}
# as known on the peildatum: H still runs to 31 Dec (in zorg, provisional uitstroom), B's
# uitstroom of 20 Dec is provisional too
EXPECTED_PEILDATUM = {
    **EXPECTED_2025,
    "wonen": _row(2, 0, 1, 0, 1, 1, 1, 4, 4),
    "ambulant": _row(2, 1, 0, 1, 0, 2, 1, 1, 2),
}
