"""Finding 4 of issue 14: a DTD or an entity in a message is refused up front, nothing fetched
or expanded, as an ordinary rejection (`Afgewezen`, so ingest records it without retrying)."""

from __future__ import annotations

import pickle
import socket
import time

import pytest

from events.ijw import GEEN_DTD, Afgewezen, lees_bericht, lees_kop
from tests.conftest import example

_DECLARATIE = b'<?xml version="1.0" encoding="UTF-8"?>'
_IDENTIFICATIE = b"<ijw:Identificatie>123456789012</ijw:Identificatie>"


def _met_dtd(dtd: bytes, identificatie: bytes | None = None) -> bytes:
    """The official JW301 example with `dtd` after its XML declaration; `identificatie`
    replaces the header's Identificatie element (where a payload would show up)."""
    data = example("JW301.xml")
    if not (data.startswith(_DECLARATIE) and _IDENTIFICATIE in data):
        raise AssertionError("the JW301 example changed: adapt _DECLARATIE/_IDENTIFICATIE")
    if identificatie is not None:
        data = data.replace(_IDENTIFICATIE, identificatie, 1)
    return _DECLARATIE + b"\n" + dtd + data[len(_DECLARATIE):]


@pytest.fixture
def luisteraar():
    """A local port that counts whether anyone connected: proof that nothing was fetched."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.2)
    yield server
    server.close()


def _niemand_verbonden(server: socket.socket) -> bool:
    try:
        verbinding, _ = server.accept()
    except TimeoutError:
        return True
    verbinding.close()
    return False


def _payloads(poort: int) -> dict[str, bytes]:
    url = f"http://127.0.0.1:{poort}".encode()
    lol = b'<!ENTITY lol0 "lol">' + b"".join(
        b'<!ENTITY lol%d "%s">' % (n, b"".join(b"&lol%d;" % (n - 1) for _ in range(10)))
        for n in range(1, 10)
    )
    return {
        "external entity, file": _met_dtd(
            b'<!DOCTYPE jw301:Bericht [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n',
            b"<ijw:Identificatie>&xxe;</ijw:Identificatie>"),
        "external entity, network": _met_dtd(
            b'<!DOCTYPE jw301:Bericht [<!ENTITY xxe SYSTEM "' + url + b'/x">]>\n',
            b"<ijw:Identificatie>&xxe;</ijw:Identificatie>"),
        "parameter entity": _met_dtd(
            b'<!DOCTYPE jw301:Bericht [<!ENTITY % ext SYSTEM "' + url + b'/x.dtd"> %ext;]>\n'),
        "external DTD": _met_dtd(b'<!DOCTYPE jw301:Bericht SYSTEM "' + url + b'/ijw.dtd">\n'),
        "billion laughs": _met_dtd(
            b"<!DOCTYPE jw301:Bericht [" + lol + b"]>\n",
            b"<ijw:Identificatie>&lol9;</ijw:Identificatie>"),
        "harmless internal DTD": _met_dtd(b"<!DOCTYPE jw301:Bericht [<!ELEMENT x ANY>]>\n"),
        "DOCTYPE after a comment and a PI": _met_dtd(
            b"<!-- comment --><?pi x?>\n<!DOCTYPE jw301:Bericht>\n"),
    }


_NAMEN = list(_payloads(0))


@pytest.mark.parametrize("naam", _NAMEN)
@pytest.mark.parametrize("with_xsd", [True, False])
def test_dtd_and_entities_are_refused_up_front(naam, with_xsd, register, schemas, luisteraar):
    data = _payloads(luisteraar.getsockname()[1])[naam]
    begin = time.monotonic()
    with pytest.raises(Afgewezen) as afgewezen:
        lees_bericht(data, register, schemas if with_xsd else None)
    assert time.monotonic() - begin < 1.0  # nothing expanded
    assert [p.element for p in afgewezen.value.problemen] == ["XML"]
    assert GEEN_DTD in afgewezen.value.reden
    assert "root:" not in afgewezen.value.reden  # nothing of /etc/passwd
    assert _niemand_verbonden(luisteraar)
    # comes back whole from a validation worker process
    assert pickle.loads(pickle.dumps(afgewezen.value)).reden == afgewezen.value.reden  # noqa: S301


def test_the_header_reader_refuses_a_dtd_too(luisteraar):
    with pytest.raises(Afgewezen, match=GEEN_DTD):
        lees_kop(_payloads(luisteraar.getsockname()[1])["external entity, network"])
    assert _niemand_verbonden(luisteraar)


def test_a_dtd_in_utf16_is_refused_after_a_parse_that_fetches_nothing(register, luisteraar):
    poort = luisteraar.getsockname()[1]
    tekst = _payloads(poort)["external entity, network"].decode("utf-8")
    data = tekst.replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")
    with pytest.raises(Afgewezen, match=GEEN_DTD):
        lees_bericht(data, register)
    assert _niemand_verbonden(luisteraar)


def test_doctype_text_in_a_comment_is_no_dtd(register, schemas):
    data = _met_dtd(b"<!-- not a <!DOCTYPE x> declaration -->\n")
    assert lees_bericht(data, register, schemas).kop.identificatie == "123456789012"


def test_an_undeclared_entity_is_not_well_formed(register):
    data = example("JW301.xml").replace(
        _IDENTIFICATIE, b"<ijw:Identificatie>&xxe;</ijw:Identificatie>", 1)
    with pytest.raises(Afgewezen, match="not well-formed"):
        lees_bericht(data, register)
