"""Small, XSD-valid iJw messages for tests: JW301 snapshots with made-up (11-proef valid) BSNs."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date

NS = 'xmlns:ijw="http://www.istandaarden.nl/ijw/3_2/basisschema/schema"'


def bsn(rng: random.Random) -> str:
    """A random 9-digit number that passes the 11-proef."""
    while True:
        digits = [rng.randint(0, 9) for _ in range(8)]
        check = sum(d * w for d, w in zip(digits, range(9, 1, -1), strict=True)) % 11
        if check < 10 and not (digits[0] == 0 and check == 0 and not any(digits)):
            return "".join(map(str, digits)) + str(check)


@dataclass(frozen=True)
class Toewijzing:
    nummer: str
    categorie: str
    code: str
    ingang: date
    eind: date | None
    toewijzingsdatum: date
    toewijzingstijd: str = "12:00:00"
    reden: str | None = None


def jw301(
    *,
    gemeente: str,
    aanbieder: str,
    identificatie: str,
    dagtekening: date,
    client_bsn: str,
    toewijzingen: list[Toewijzing],
) -> bytes:
    producten = "".join(_product(t) for t in toewijzingen)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<jw301:Bericht {NS} xmlns:jw301="http://www.istandaarden.nl/ijw/3_2/jw301/schema">
<jw301:Header><jw301:BerichtCode>436</jw301:BerichtCode><jw301:BerichtVersie>3</jw301:BerichtVersie>
<jw301:BerichtSubversie>2</jw301:BerichtSubversie><jw301:Afzender>{gemeente}</jw301:Afzender>
<jw301:Ontvanger>{aanbieder}</jw301:Ontvanger><jw301:BerichtIdentificatie>
<ijw:Identificatie>{identificatie}</ijw:Identificatie><ijw:Dagtekening>{dagtekening}</ijw:Dagtekening>
</jw301:BerichtIdentificatie><jw301:XsdVersie><ijw:BasisschemaXsdVersie>1.0.0</ijw:BasisschemaXsdVersie>
<ijw:BerichtXsdVersie>1.0.0</ijw:BerichtXsdVersie></jw301:XsdVersie></jw301:Header>
<jw301:Client><jw301:Bsn>{client_bsn}</jw301:Bsn><jw301:Geboortedatum><ijw:Datum>2012-03-04</ijw:Datum>
</jw301:Geboortedatum><jw301:Geslacht>2</jw301:Geslacht><jw301:Naam><ijw:Geslachtsnaam>
<ijw:Achternaam>Testkind</ijw:Achternaam></ijw:Geslachtsnaam><ijw:Voorletters>T</ijw:Voorletters>
<ijw:NaamGebruik>1</ijw:NaamGebruik></jw301:Naam>
<jw301:Contactgegevens><jw301:Contact><jw301:Soort>01</jw301:Soort>
<jw301:Adres><ijw:Huis><ijw:Huisnummer>1</ijw:Huisnummer></ijw:Huis><ijw:Postcode>9999XX</ijw:Postcode>
<ijw:Straatnaam>Teststraat</ijw:Straatnaam><ijw:Plaatsnaam>Teststad</ijw:Plaatsnaam><ijw:LandCode>NL</ijw:LandCode>
</jw301:Adres></jw301:Contact></jw301:Contactgegevens>
<jw301:ToegewezenProducten>{producten}</jw301:ToegewezenProducten></jw301:Client></jw301:Bericht>
""".encode()


def _product(t: Toewijzing) -> str:
    eind = f"<jw301:Einddatum>{t.eind}</jw301:Einddatum>" if t.eind else ""
    reden = f"<jw301:RedenWijziging>{t.reden}</jw301:RedenWijziging>" if t.reden else ""
    return f"""<jw301:ToegewezenProduct><jw301:ToewijzingNummer>{t.nummer}</jw301:ToewijzingNummer>
<jw301:Product><ijw:Categorie>{t.categorie}</ijw:Categorie><ijw:Code>{t.code}</ijw:Code></jw301:Product>
<jw301:Toewijzingsdatum>{t.toewijzingsdatum}</jw301:Toewijzingsdatum>
<jw301:Toewijzingstijd>{t.toewijzingstijd}</jw301:Toewijzingstijd>
<jw301:Ingangsdatum>{t.ingang}</jw301:Ingangsdatum>{eind}{reden}</jw301:ToegewezenProduct>"""
