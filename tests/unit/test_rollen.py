"""Roles and the access decisions of DOMAIN.md (Privacy and access), as pure functions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.toegang.rollen import (
    Besluit,
    OngeldigeRol,
    RegioScope,
    Rol,
    Soort,
    Uitkomst,
    Vraag,
    besluit,
    lees_rol,
    lees_rollen,
    leest_http,
    zichtbare_regios,
)

MAASTRICHT, HEERLEN, LANDGRAAF = "0935", "0917", "0882"
EINDHOVEN, BEST = "0772", "0753"
ZL = RegioScope("zuid-limburg", frozenset({MAASTRICHT, HEERLEN, LANDGRAAF}))
E10 = RegioScope("een-10-voor-de-jeugd", frozenset({EINDHOVEN, BEST}))
REGIOS = {ZL.id, E10.id}

VOLLEDIG, ONDERDRUKT, GEWEIGERD = Uitkomst.VOLLEDIG, Uitkomst.ONDERDRUKT, Uitkomst.GEWEIGERD


def rollen(*teksten: str) -> list[Rol]:
    return [lees_rol(t) for t in teksten]


def vraag(rol_teksten: tuple[str, ...], regio: RegioScope, v: Vraag,
          gemeente: str | None = None) -> Besluit:
    return besluit(rollen(*rol_teksten), regio, v, gemeente)


# -- parsing ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("tekst", "rol"), [
    ("gemeente:0935", Rol(Soort.GEMEENTE, "0935")),
    ("regio:zuid-limburg", Rol(Soort.REGIO, "zuid-limburg")),
    ("auditor:zuid-limburg", Rol(Soort.AUDITOR, "zuid-limburg")),
    ("subscriber", Rol(Soort.ABONNEE)),
])
def test_each_role_form_is_read_and_written_back_the_same(tekst, rol):
    assert lees_rol(tekst, REGIOS) == rol
    assert str(rol) == tekst


@pytest.mark.parametrize("tekst", [
    "gemeente:935", "gemeente:09350", "gemeente:Maastricht", "gemeente:", "Gemeente:0935",
    "regio:", "regio:Zuid-Limburg", "regio:zuid limburg", "regio:zuid-limburg:extra",
    "auditor", "subscriber:x", "admin", "", " gemeente:0935", "regio:*",
])
def test_anything_else_is_not_a_role(tekst):
    with pytest.raises(OngeldigeRol):
        lees_rol(tekst)


def test_a_region_that_is_not_configured_is_not_a_role():
    with pytest.raises(OngeldigeRol, match="not configured"):
        lees_rol("regio:noord-limburg", REGIOS)
    assert lees_rol("regio:noord-limburg") == Rol(Soort.REGIO, "noord-limburg")  # syntax only


def test_unknown_strings_in_the_claim_are_ignored_with_a_reason_and_the_rest_counts():
    gevonden, genegeerd = lees_rollen(
        ["gemeente:0935", "admin", "regio:noord-limburg", "gemeente:0935", 7], REGIOS)
    assert gevonden == (Rol(Soort.GEMEENTE, "0935"),)
    assert [g.tekst for g in genegeerd] == ["admin", "regio:noord-limburg", "int"]
    assert all(g.reden for g in genegeerd)


def test_claim_shapes():
    assert lees_rollen(None) == ((), ())
    assert lees_rollen("regio:zuid-limburg")[0] == (Rol(Soort.REGIO, "zuid-limburg"),)
    gevonden, genegeerd = lees_rollen({"regio": "zuid-limburg"})
    assert gevonden == () and "list of strings" in genegeerd[0].reden
    lang, = lees_rollen(["x" * 500])[1]
    assert len(lang.tekst) <= 64


# -- gemeente -----------------------------------------------------------------------------------


GEMEENTE = ("gemeente:0935",)


def test_a_gemeente_reads_its_own_figures_detail_and_replay_in_full():
    for v in (Vraag.GEMEENTE_CIJFERS, Vraag.DETAIL, Vraag.REPLAY):
        b = vraag(GEMEENTE, ZL, v, MAASTRICHT)
        assert b.uitkomst is VOLLEDIG and b.rol == Rol(Soort.GEMEENTE, MAASTRICHT)


def test_a_gemeente_reads_other_gemeenten_and_the_region_as_a_suppressed_benchmark():
    assert vraag(GEMEENTE, ZL, Vraag.GEMEENTE_CIJFERS, HEERLEN).uitkomst is ONDERDRUKT
    b = vraag(GEMEENTE, ZL, Vraag.REGIO_CIJFERS)
    assert b.uitkomst is ONDERDRUKT and b.onderdrukt and b.toegestaan


def test_a_gemeente_never_reads_another_gemeentes_detail():
    b = vraag(GEMEENTE, ZL, Vraag.DETAIL, HEERLEN)
    assert b.uitkomst is GEWEIGERD
    assert "gemeente:0917" in b.reden and "regio:zuid-limburg" in b.reden
    assert vraag(GEMEENTE, ZL, Vraag.DETAIL).uitkomst is GEWEIGERD  # the whole region's
    assert vraag(GEMEENTE, ZL, Vraag.REPLAY, HEERLEN).uitkomst is GEWEIGERD
    assert vraag(GEMEENTE, ZL, Vraag.REPLAY).uitkomst is GEWEIGERD


def test_a_gemeente_changes_nothing():
    b = vraag(GEMEENTE, ZL, Vraag.WIJZIGING, MAASTRICHT)
    assert b.uitkomst is GEWEIGERD and "regio:zuid-limburg" in b.reden


def test_a_gemeente_sees_nothing_of_another_region():
    for v, g in [(Vraag.REGIO_CIJFERS, None), (Vraag.GEMEENTE_CIJFERS, EINDHOVEN),
                 (Vraag.DETAIL, EINDHOVEN), (Vraag.REPLAY, None)]:
        b = vraag(GEMEENTE, E10, v, g)
        assert b.uitkomst is GEWEIGERD
        assert "een-10-voor-de-jeugd" in b.reden


def test_a_gemeente_that_is_not_in_the_region_is_denied_whatever_the_role():
    for rol in ("regio:zuid-limburg", "auditor:zuid-limburg", "gemeente:0935"):
        b = vraag((rol,), ZL, Vraag.GEMEENTE_CIJFERS, EINDHOVEN)
        assert b.uitkomst is GEWEIGERD and "not part of region zuid-limburg" in b.reden


def test_someone_with_two_gemeenten_reads_both_in_full():
    b = vraag(("gemeente:0935", "gemeente:0917"), ZL, Vraag.DETAIL, HEERLEN)
    assert b.uitkomst is VOLLEDIG and b.rol == Rol(Soort.GEMEENTE, HEERLEN)


# -- regio and auditor --------------------------------------------------------------------------


ALLE_LEESVRAGEN = [(Vraag.REGIO_CIJFERS, None), (Vraag.GEMEENTE_CIJFERS, HEERLEN),
                   (Vraag.DETAIL, HEERLEN), (Vraag.DETAIL, None), (Vraag.REPLAY, None),
                   (Vraag.REPLAY, MAASTRICHT)]


@pytest.mark.parametrize("rol", ["regio:zuid-limburg", "auditor:zuid-limburg"])
def test_regio_and_auditor_read_all_of_their_region_in_full(rol):
    for v, g in ALLE_LEESVRAGEN:
        assert vraag((rol,), ZL, v, g).uitkomst is VOLLEDIG


@pytest.mark.parametrize("rol", ["regio:zuid-limburg", "auditor:zuid-limburg"])
def test_regio_and_auditor_see_nothing_of_another_region(rol):
    for v, g in [(Vraag.REGIO_CIJFERS, None), (Vraag.GEMEENTE_CIJFERS, EINDHOVEN),
                 (Vraag.DETAIL, EINDHOVEN), (Vraag.REPLAY, None), (Vraag.WIJZIGING, None)]:
        b = vraag((rol,), E10, v, g)
        assert b.uitkomst is GEWEIGERD and "een-10-voor-de-jeugd" in b.reden


def test_the_auditor_is_read_only_and_the_regio_role_may_change():
    b = vraag(("auditor:zuid-limburg",), ZL, Vraag.WIJZIGING)
    assert b.uitkomst is GEWEIGERD and "regio:zuid-limburg" in b.reden
    assert vraag(("regio:zuid-limburg",), ZL, Vraag.WIJZIGING).uitkomst is VOLLEDIG


def test_the_most_generous_role_wins():
    rol = ("gemeente:0935", "auditor:zuid-limburg")
    b = vraag(rol, ZL, Vraag.DETAIL, HEERLEN)
    assert b.uitkomst is VOLLEDIG and b.rol == Rol(Soort.AUDITOR, ZL.id)
    assert vraag(rol, ZL, Vraag.REGIO_CIJFERS).uitkomst is VOLLEDIG
    assert vraag(("gemeente:0935", "regio:een-10-voor-de-jeugd"), ZL,
                 Vraag.REGIO_CIJFERS).uitkomst is ONDERDRUKT


# -- subscriber and no role ---------------------------------------------------------------------


def test_a_subscriber_reads_nothing_over_http():
    for v, g in [*ALLE_LEESVRAGEN, (Vraag.WIJZIGING, None)]:
        b = vraag(("subscriber",), ZL, v, g)
        assert b.uitkomst is GEWEIGERD and "NATS" in b.reden
    assert not leest_http(rollen("subscriber"))
    assert leest_http(rollen("subscriber", "gemeente:0935"))


def test_no_role_no_access():
    b = besluit([], ZL, Vraag.REGIO_CIJFERS)
    assert b.uitkomst is GEWEIGERD and "no jeugdstroom role" in b.reden


def test_figures_of_a_gemeente_need_the_gemeente_and_region_figures_none():
    with pytest.raises(ValueError, match="need a gemeente"):
        besluit(rollen("regio:zuid-limburg"), ZL, Vraag.GEMEENTE_CIJFERS)
    with pytest.raises(ValueError, match="whole region"):
        besluit(rollen("regio:zuid-limburg"), ZL, Vraag.REGIO_CIJFERS, MAASTRICHT)


# -- what else the HTTP layer needs -------------------------------------------------------------


def test_detail_replay_and_every_denial_are_audited():
    assert vraag(GEMEENTE, ZL, Vraag.DETAIL, MAASTRICHT).auditen
    assert vraag(("regio:zuid-limburg",), ZL, Vraag.REPLAY).auditen
    assert vraag(GEMEENTE, E10, Vraag.REGIO_CIJFERS).auditen  # denied
    assert not vraag(GEMEENTE, ZL, Vraag.REGIO_CIJFERS).auditen


def test_the_regions_a_caller_sees():
    assert zichtbare_regios(rollen("gemeente:0935"), [ZL, E10]) == [ZL.id]
    assert zichtbare_regios(rollen("auditor:een-10-voor-de-jeugd"), [ZL, E10]) == [E10.id]
    assert zichtbare_regios(rollen("subscriber"), [ZL, E10]) == []


# -- the invariant, over every combination ------------------------------------------------------


GEMEENTEN = sorted(ZL.gemeenten | E10.gemeenten)
rol_strategie = st.one_of(
    st.sampled_from(GEMEENTEN).map(lambda c: Rol(Soort.GEMEENTE, c)),
    st.sampled_from(sorted(REGIOS)).map(lambda r: Rol(Soort.REGIO, r)),
    st.sampled_from(sorted(REGIOS)).map(lambda r: Rol(Soort.AUDITOR, r)),
    st.just(Rol(Soort.ABONNEE)),
)


@given(st.lists(rol_strategie, max_size=4), st.sampled_from([ZL, E10]), st.sampled_from(list(Vraag)),
       st.one_of(st.none(), st.sampled_from(GEMEENTEN)))
def test_no_role_of_another_region_opens_anything_and_detail_needs_that_gemeente_or_the_region(
        gegeven, regio, v, gemeente):
    if (v is Vraag.GEMEENTE_CIJFERS) != (gemeente is not None) and v is not Vraag.DETAIL \
            and v is not Vraag.REPLAY and v is not Vraag.WIJZIGING:
        return  # asked wrongly: a ValueError, tested above
    b = besluit(gegeven, regio, v, gemeente)
    van_regio = [r for r in gegeven if (r.soort in (Soort.REGIO, Soort.AUDITOR) and r.waarde == regio.id)
                 or (r.soort is Soort.GEMEENTE and r.waarde in regio.gemeenten)]
    if not van_regio:
        assert b.uitkomst is GEWEIGERD
    if gemeente is not None and gemeente not in regio.gemeenten:
        assert b.uitkomst is GEWEIGERD
    if v in (Vraag.DETAIL, Vraag.REPLAY) and b.toegestaan:
        assert b.uitkomst is VOLLEDIG
        assert any(r.soort in (Soort.REGIO, Soort.AUDITOR) and r.waarde == regio.id for r in gegeven) \
            or Rol(Soort.GEMEENTE, gemeente) in gegeven
    if v is Vraag.WIJZIGING and b.toegestaan:
        assert Rol(Soort.REGIO, regio.id) in gegeven
    if b.toegestaan:
        assert b.rol in gegeven
