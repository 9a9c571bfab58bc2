"""The tariff table, declaratie_termijn and start_termijn of a region file."""

from __future__ import annotations

from datetime import date

import pytest

from projections.regio import CATEGORIEEN, RegioConfigError, laad_regios, lees_regio

KOP = '''id = "x"
naam = "X"
history_start = 2020-01-01
[gemeenten]
"0935" = "Maastricht"
"0938" = "Meerssen"
[[segmenten]]
id = "ambulant"
naam = "Ambulant"
regels = [{ categorie = "45" }]
'''


def regio_met(tmp_path, tarieven: str, kop: str = KOP):
    path = tmp_path / "regio.toml"
    path.write_text(kop + tarieven)
    return lees_regio(path)


def fout(tmp_path, tarieven: str) -> str:
    with pytest.raises(RegioConfigError) as error:
        regio_met(tmp_path, tarieven)
    message = " ".join(str(error.value).split())
    assert "regio.toml" in message
    return message


def test_defaults_without_tariffs(tmp_path):
    regio = regio_met(tmp_path, "")
    assert (regio.declaratie_termijn, regio.start_termijn, regio.tarieven) == (90, 30, ())
    assert regio.tarief_voor("0935", "45", "45A01", "04", date(2023, 1, 1)) is None


def test_the_most_specific_tariff_wins_as_for_segments(tmp_path):
    regio = regio_met(tmp_path, '''
[[tarieven]]
categorie = "45"
eenheid = "04"
tarief = 9000
[[tarieven]]
prefix = "45A"
eenheid = "04"
tarief = 9500
[[tarieven]]
prefix = "45A1"
eenheid = "04"
tarief = 9600
[[tarieven]]
code = "45A12"
eenheid = "04"
tarief = 10000
[[tarieven]]
prefix = "45A"
gemeenten = ["0938"]
eenheid = "04"
tarief = 9700
''')
    op = date(2023, 1, 1)
    assert regio.tarief_voor("0935", "45", "45B01", "04", op) == 9000
    assert regio.tarief_voor("0935", "45", "45A01", "04", op) == 9500
    assert regio.tarief_voor("0935", "45", "45A13", "04", op) == 9600
    assert regio.tarief_voor("0935", "45", "45A12", "04", op) == 10000
    assert regio.tarief_voor("0938", "45", "45A01", "04", op) == 9700  # the gemeente's own
    assert regio.tarief_voor("0938", "45", "45A12", "04", op) == 10000  # a code still beats it
    assert regio.tarief_voor("0935", "45", "45A12", "14", op) is None  # another eenheid
    assert regio.tarief_voor("0935", "43", "43A01", "04", op) is None


def test_a_tariff_is_chosen_by_allocation_start(tmp_path):
    regio = regio_met(tmp_path, '''
[[tarieven]]
categorie = "45"
eenheid = "04"
tarief = 9000
geldig_tot = 2022-12-31
[[tarieven]]
categorie = "45"
eenheid = "04"
tarief = 9400
geldig_vanaf = 2023-01-01
''')
    assert regio.tarief_voor("0935", "45", "45A01", "04", date(2022, 12, 31)) == 9000
    assert regio.tarief_voor("0935", "45", "45A01", "04", date(2023, 1, 1)) == 9400


def test_eenheid_euro_is_a_hundred_eurocent(tmp_path):
    assert regio_met(tmp_path, "").tarief_voor("0935", "45", "45A01", "83", date(2023, 1, 1)) == 100


def test_termijnen_are_read(tmp_path):
    kop = KOP.replace('history_start = 2020-01-01\n',
                      'history_start = 2020-01-01\ndeclaratie_termijn = 120\nstart_termijn = 14\n')
    regio = regio_met(tmp_path, "", kop)
    assert (regio.declaratie_termijn, regio.start_termijn) == (120, 14)


@pytest.mark.parametrize(("tarieven", "verwacht"), [
    ('[[tarieven]]\ncode = "45A01"\ncategorie = "45"\neenheid = "04"\ntarief = 1\n',
     "tarieven.0: Value error, a tariff names exactly one of code, prefix or categorie, "
     "not code and categorie"),
    ('[[tarieven]]\neenheid = "04"\ntarief = 1\n',
     "tarieven.0: Value error, a rule needs categorie, prefix or code"),
    ('[[tarieven]]\ncategorie = "45"\neenheid = 4\ntarief = 1\n',
     "tarieven.0.eenheid: Value error, eenheid is a quoted iJw Eenheid code"),
    ('[[tarieven]]\ncategorie = "45"\neenheid = "83"\ntarief = 100\n',
     "tarieven.0.eenheid: Value error, eenheid 83 (euro's) needs no tariff"),
    ('[[tarieven]]\ncategorie = "45"\neenheid = "04"\ntarief = 12.5\n',
     "tarieven.0.tarief: Value error, tarief is a whole number of eurocent (12,50 euro: tarief = 1250)"),
    ('[[tarieven]]\ncategorie = "45"\neenheid = "04"\ntarief = 0\n',
     "tarieven.0.tarief: Input should be greater than 0"),
    ('[[tarieven]]\ncategorie = "45"\neenheid = "04"\n', "tarieven.0.tarief: Field required"),
    ('[[tarieven]]\ncategorie = "45"\neenheid = "04"\ntarief = 1\nprijs = 3\n',
     "tarieven.0.prijs: Extra inputs are not permitted"),
    ('[[tarieven]]\ncategorie = "45"\neenheid = "04"\ntarief = 1\ngemeenten = ["0344"]\n',
     "tarieven[0] names gemeenten outside the region: ['0344']"),
    ('[[tarieven]]\ncategorie = "45"\neenheid = "04"\ntarief = 1\ngeldig_tot = 2023-06-30\n'
     '[[tarieven]]\ncategorie = "45"\neenheid = "04"\ntarief = 2\ngeldig_vanaf = 2023-06-30\n',
     "tarieven[0] and tarieven[1] both price the same product and eenheid 04 on the same allocation "
     "start dates: give them geldig_vanaf/geldig_tot that do not overlap"),
])
def test_errors_name_the_file_the_field_and_what_to_write(tmp_path, tarieven, verwacht):
    assert verwacht in fout(tmp_path, tarieven)


def test_negative_termijn_is_refused(tmp_path):
    kop = KOP.replace('history_start = 2020-01-01\n', 'history_start = 2020-01-01\nstart_termijn = -1\n')
    with pytest.raises(RegioConfigError, match="start_termijn: Input should be greater than or equal to 0"):
        regio_met(tmp_path, "", kop)


def test_the_same_tariff_for_another_eenheid_or_period_is_allowed(tmp_path):
    regio = regio_met(tmp_path, '''
[[tarieven]]
categorie = "45"
eenheid = "04"
tarief = 1
geldig_tot = 2023-06-29
[[tarieven]]
categorie = "45"
eenheid = "04"
tarief = 2
geldig_vanaf = 2023-06-30
[[tarieven]]
categorie = "45"
eenheid = "14"
tarief = 3
''')
    assert len(regio.tarieven) == 3


@pytest.mark.parametrize("regio_id", ["zuid-limburg", "een-10-voor-de-jeugd"])
def test_shipped_regions_price_every_categorie_they_monitor(regio_id):
    regio = laad_regios()[regio_id]
    assert (regio.declaratie_termijn, regio.start_termijn) == (90, 30)
    gemeente = next(iter(regio.gemeenten))
    for segment in regio.segmenten:
        for regel in segment.regels:
            categorie = regel.categorie or (regel.code or regel.prefix or "")[:2]
            code = regel.code or (regel.prefix or f"{categorie}A")[:5].ljust(5, "0")
            assert categorie in CATEGORIEEN
            assert any(regio.tarief_voor(gemeente, categorie, code, eenheid, date(2023, 1, 1))
                       for eenheid in ("04", "14")), (segment.id, categorie, code)
