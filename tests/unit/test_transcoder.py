"""The orjson transcoder against the library's JSONTranscoder: the same bytes, the same events."""

from __future__ import annotations

import types
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, ClassVar, Union, get_args, get_origin, get_type_hints

import pytest
from eventsourcing.domain import Aggregate, DomainEvent
from eventsourcing.persistence import JSONTranscoder, Mapper, Transcoder, Transcoding
from eventsourcing.utils import resolve_topic
from hypothesis import given
from hypothesis import strategies as st

from events.domain import Declaratie, Declaratieregel, Toewijzing
from events.ijw import Afgewezen, lees_bericht
from events.pseudonym import Pseudonimiseerder
from events.verwerking import verwerk
from services.dev.simulator import simuleer
from services.eventstore.postgres import Gebeurtenissen, library_env
from services.eventstore.transcoder import OrjsonTranscoder
from tests.conftest import EXAMPLES, INGESTED_EXAMPLES
from tests.unit.test_domain import Bron
from tests.unit.test_simulator import JAREN, KLEIN


def _transcoder(cls: type[JSONTranscoder], *extra: Transcoding) -> Transcoder:
    transcoder = cls()
    # the application's own registrations, without its database
    object.__new__(Gebeurtenissen).register_transcodings(transcoder)
    for transcoding in extra:
        transcoder.register(transcoding)
    return transcoder


OUD = Mapper[Any](_transcoder(JSONTranscoder))
NIEUW = Mapper[Any](_transcoder(OrjsonTranscoder))
SOORTEN = {cls for aggregate in (Toewijzing, Declaratie) for cls in vars(aggregate).values()
           if isinstance(cls, type) and issubclass(cls, Aggregate.Event)
           and cls.__name__ not in ("Event", "Created")}


@pytest.fixture(scope="module")
def events(register, tmp_path_factory) -> list[DomainEvent]:
    """Every event of the official examples and of a small simulated traffic, as ingest makes them."""
    out = tmp_path_factory.mktemp("sim")
    simuleer(KLEIN, JAREN, seed=7, out=out)
    bron, events = Bron(), []
    for pad in [*(EXAMPLES / naam for naam in INGESTED_EXAMPLES), *sorted(Path(out).iterdir())]:
        try:
            bericht = lees_bericht(pad.read_bytes(), register)
        except Afgewezen:
            continue  # the simulator's deliberately broken files
        verwerk(bericht, Pseudonimiseerder(b"0123456789abcdef0123456789abcdef"), bron)
        events += bron.nieuwe_events()
    return events


def _inhoud(event: DomainEvent) -> tuple[type, str]:
    """An event's kind and attributes; the repr tells a list from a tuple, a date from a datetime."""
    return type(event), repr(vars(event))


def test_the_sample_has_every_kind_of_event_and_declaration_lines_with_none(events):
    assert {type(e) for e in events} == SOORTEN
    regels = [r for e in events for r in (*getattr(e, "regels", ()), *getattr(e, "afgewezen_regels", ()))]
    assert any(r.vorig_referentienummer is None for r in regels) and any(r.retourcodes for r in regels)
    assert any(getattr(e, "afgewezen_regels", ()) for e in events)
    assert any(getattr(e, "einddatum", date.min) is None for e in events)


def test_the_orjson_transcoder_stores_the_same_bytes(events):
    for event in events:
        assert NIEUW.to_stored_event(event) == OUD.to_stored_event(event)


def test_each_transcoder_reads_what_the_other_wrote(events):
    for event in events:
        oud, nieuw = OUD.to_stored_event(event), NIEUW.to_stored_event(event)
        verwacht = _inhoud(OUD.to_domain_event(oud))
        assert _inhoud(NIEUW.to_domain_event(oud)) == verwacht
        assert _inhoud(OUD.to_domain_event(nieuw)) == verwacht
        assert _inhoud(NIEUW.to_domain_event(nieuw)) == verwacht


def test_tuples_come_back_as_the_library_returns_them(events):
    """Lists at the top (the library does not know an attribute's type), tuples inside a
    declaration line (its transcoding makes them)."""
    ingediend = next(e for e in events if isinstance(e, Declaratie.Ingediend))
    terug = NIEUW.to_domain_event(NIEUW.to_stored_event(ingediend))
    assert isinstance(terug.regels, list) and isinstance(terug.regels[0].retourcodes, tuple)
    assert tuple(terug.regels) == ingediend.regels


@dataclass(frozen=True)
class Omhulsel:
    """A value whose transcoding gives another transcoded value: `_type_` objects nested directly."""

    waarde: Any


class OmhulselAlsWaarde(Transcoding):
    type = Omhulsel
    name = "omhulsel"

    def encode(self, obj: Omhulsel) -> Any:
        return obj.waarde

    def decode(self, data: Any) -> Omhulsel:
        return Omhulsel(data)


_WAARDEN = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.text() | st.dates()
    | st.datetimes() | st.decimals(allow_nan=False, allow_infinity=False),
    lambda binnen: (st.lists(binnen) | st.tuples(binnen, binnen) | st.dictionaries(st.text(), binnen)
                    | st.builds(Omhulsel, binnen)),
    max_leaves=20)
OUD_MET_OMHULSEL = _transcoder(JSONTranscoder, OmhulselAlsWaarde())
NIEUW_MET_OMHULSEL = _transcoder(OrjsonTranscoder, OmhulselAlsWaarde())


@given(st.dictionaries(st.text(), _WAARDEN))
def test_any_text_number_date_and_nesting_as_the_library_writes_it(inhoud):
    """Control characters, quotes, non-ASCII text, 64-bit numbers, nesting: byte for byte."""
    geschreven = NIEUW_MET_OMHULSEL.encode(inhoud)
    assert geschreven == OUD_MET_OMHULSEL.encode(inhoud)
    assert repr(NIEUW_MET_OMHULSEL.decode(geschreven)) == repr(OUD_MET_OMHULSEL.decode(geschreven))


def _typen(hint: Any) -> set[Any]:
    if get_origin(hint) in (Union, types.UnionType):
        return set().union(*map(_typen, get_args(hint)))
    if get_origin(hint) is tuple:
        return _typen(get_args(hint)[0])
    return {hint}


def test_no_event_attribute_is_a_type_orjson_writes_itself():
    """orjson writes UUIDs and enums without asking the transcodings: such an attribute would be
    stored in another form than the library's. Extend OrjsonTranscoder before adding one."""
    als_de_library = {str, int, type(None), date, datetime, Declaratieregel}
    for cls in [*SOORTEN, Declaratieregel]:
        for naam, hint in get_type_hints(cls).items():
            if naam in ("originator_id", "originator_version") or get_origin(hint) is ClassVar:
                continue  # the mapper stores these in columns of their own, or not at all
            assert _typen(hint) <= als_de_library, f"{cls.__qualname__}.{naam}: {hint}"


def test_the_event_store_writes_with_it():
    assert resolve_topic(library_env("postgresql:///jeugdstroom")["TRANSCODER_TOPIC"]) is OrjsonTranscoder
