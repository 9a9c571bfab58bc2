"""Property: the live projection, fed versions one by one in any arrival order and keeping
knowledge-time periods per client, equals a from-scratch classification at any K."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from projections.flow import Versie, classificeer_op, geldig_op, tel, tijdlijn
from projections.regio import laad_regios

ZL = laad_regios()["zuid-limburg"]
BASIS = date(2021, 1, 1)
GEMEENTEN = ["0935", "0938", "0917"]  # Heerlen excludes ambulant
PRODUCTEN = [("43", "43A01"), ("45", "45A01"), ("46", "46A01"), ("55", "55A01"), ("43", "43G01")]


@st.composite
def versie(draw) -> Versie:
    start = BASIS + timedelta(days=draw(st.integers(0, 700)))
    eind_kind = draw(st.sampled_from(["open", "eind", "verwijder"]))
    eind = (None if eind_kind == "open" else start if eind_kind == "verwijder"
            else start + timedelta(days=draw(st.integers(0, 400))))
    categorie, code = draw(st.sampled_from(PRODUCTEN))
    toegewezen = BASIS + timedelta(days=draw(st.integers(0, 800)))
    return Versie(
        gemeentecode=draw(st.sampled_from(GEMEENTEN)),
        toewijzingnummer=str(draw(st.integers(1, 6))),
        client=draw(st.sampled_from(["a", "b"])),
        categorie=categorie,
        code=code,
        toegewezen_op=datetime.combine(toegewezen, datetime.min.time())
        + timedelta(hours=draw(st.integers(0, 2))),
        ingangsdatum=start,
        einddatum=eind,
        reden_wijziging="13" if eind_kind == "verwijder" or draw(st.booleans()) else None,
        dagtekening=toegewezen + timedelta(days=draw(st.integers(0, 60))),
        identificatie=str(draw(st.integers(1, 30))),
    )


class LiveProjectie:
    """The projector's update rule without a database: on every version, recompute the
    periods of exactly the clients the changed toewijzing ever belonged to."""

    def __init__(self) -> None:
        self.versies: list[Versie] = []
        self.perioden: dict[str, list] = {}

    def ontvang(self, v: Versie) -> None:
        self.versies.append(v)
        geraakt = {x.client for x in self.versies if x.sleutel == v.sleutel}
        for client in geraakt:
            toewijzingen = {x.sleutel for x in self.versies if x.client == client}
            relevant = [x for x in self.versies if x.sleutel in toewijzingen]
            self.perioden[client] = tijdlijn(relevant, ZL, {client})

    def op(self, k: date):
        return geldig_op([p for ps in self.perioden.values() for p in ps], k)


def _key(c):
    return (c.allocatie.sleutel, c.allocatie.client, c.categorie, c.uitstroom, c.delta)


@settings(max_examples=150, deadline=None)
@given(
    versies=st.lists(versie(), min_size=1, max_size=14),
    volgorde=st.randoms(use_true_random=False),
    ks=st.lists(st.integers(0, 900), min_size=1, max_size=4),
    peildatum=st.integers(150, 900),
)
def test_live_projection_equals_recomputation(versies, volgorde, ks, peildatum):
    aankomst = list(versies)
    volgorde.shuffle(aankomst)
    live = LiveProjectie()
    for v in aankomst:
        live.ontvang(v)
    for dag in ks:
        k = BASIS + timedelta(days=dag)
        from_scratch = classificeer_op(versies, ZL, k)
        assert sorted(map(_key, live.op(k))) == sorted(map(_key, from_scratch))
        pd = BASIS + timedelta(days=peildatum)
        van = pd - timedelta(days=364)
        assert (tel(live.op(k), ZL, van, pd, k).als_dict()
                == tel(from_scratch, ZL, van, pd, k).als_dict())


def test_arrival_order_never_changes_a_past_answer():
    """Periods are keyed on Dagtekening: however late a message arrives, K before its
    Dagtekening still shows what was known then."""
    a = Versie("0935", "1", "a", "43", "43A01", datetime(2021, 1, 1), date(2021, 1, 1),
               date(2021, 6, 30), None, date(2021, 1, 1), "1")
    b = Versie("0935", "2", "a", "43", "43A01", datetime(2021, 7, 1), date(2021, 7, 5), None,
               None, date(2021, 7, 1), "2")
    per_order = defaultdict(list)
    for order in ([a, b], [b, a]):
        live = LiveProjectie()
        for v in order:
            live.ontvang(v)
        per_order[date(2021, 6, 30)].append(sorted(map(_key, live.op(date(2021, 6, 30)))))
    assert per_order[date(2021, 6, 30)][0] == per_order[date(2021, 6, 30)][1]
