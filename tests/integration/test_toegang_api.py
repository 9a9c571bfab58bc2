"""Access to the HTTP API and the dashboard (issue 12, DOMAIN.md Privacy and access), on the
hand-made history: tokens signed by a key set made here, verified by the app as `serve` builds
it; the audit rows in the real PostgreSQL.

Tokens are test tokens; still, no assertion message prints one.
"""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi import APIRouter, Depends
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey
from typer.testing import CliRunner

from services import bootstrap
from services.cli import app as cli
from services.http.api import maak_api
from services.http.toegang import COOKIE, Toegang, vereis_volledig
from services.projector.runner import eventlog
from services.toegang.audit import AuditRegel
from services.toegang.tokens import TokenInstellingen, TokenVerificateur, maak_token
from tests.integration.handmade import HEERLEN, MAASTRICHT, MEERSSEN

pytestmark = pytest.mark.integration

ISSUER = "https://sso.zuid-limburg.example/realms/jeugd"
AUDIENCE = "jeugdstroom-api"
KEY = ECKey.generate_key("P-256", parameters={"kid": "k1", "use": "sig"})
RSA = RSAKey.generate_key(2048, parameters={"kid": "k2", "use": "sig"})
OTHER = ECKey.generate_key("P-256", parameters={"kid": "k1", "use": "sig"})  # same kid, not ours

Q = "region=zuid-limburg&peildatum=2023-12-31&known_at=2025-01-01"
DIFF = "/api/diff?region=zuid-limburg&peildatum=2023-12-31&known_at=2023-12-31&known_at=2025-01-01"
ROUTES = [
    "/api/regions", "/api/regions/zuid-limburg", f"/api/counts?{Q}", f"/api/replay?{Q}", DIFF,
    "/api/timeseries?region=zuid-limburg&from_month=2023-01&to_month=2023-12",
    f"/api/gemeenten?{Q}", "/?regio=zuid-limburg&peildatum=2023-12-31",
]
FIGURES = ("instroom", "stapeling", "doorstroom", "recidive", "hernieuwde_instroom", "uitstroom",
           "uitstroom_voorlopig", "in_zorg", "unieke_jeugdigen")


def token(*rollen: str, sub: str = "tester", key=KEY, alg: str = "ES256", **claims) -> str:
    nu = int(time.time())
    inhoud = {"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "iat": nu, "nbf": nu, "exp": nu + 300,
              "jeugdstroom_roles": list(rollen), **claims}
    return jwt.encode({"alg": alg, "kid": key.kid}, inhoud, key, algorithms=[alg])


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def header(tekst: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tekst}"}


@pytest.fixture
def app(settings, projected, tmp_path):
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [KEY.as_dict(private=False), RSA.as_dict(private=False)]}))
    regios = bootstrap.regios(settings)
    verificateur = TokenVerificateur(TokenInstellingen(jwks=str(jwks), issuer=ISSUER,
                                                       audience=AUDIENCE),
                                     bekende_regios=list(regios))
    toegang = Toegang(verificateur, regios, bootstrap.toegang_audit(projected.store))
    return maak_api(bootstrap.leeskant(projected), lambda: eventlog(projected.store), regios,
                    toegang=toegang)


@pytest.fixture
def client(app) -> TestClient:
    return TestClient(app, follow_redirects=False)


def audit_rows(projected):
    return bootstrap.toegang_audit(projected.store).lees()


def test_no_or_a_bad_token_is_401_with_www_authenticate_on_every_route(client, projected):
    nu = int(time.time())
    slecht = {
        "expired": token("regio:zuid-limburg", exp=nu - 3600, iat=nu - 7200, nbf=nu - 7200),
        "another audience": token("regio:zuid-limburg", aud="iets-anders"),
        "another issuer": token("regio:zuid-limburg", iss="https://evil.example"),
        "another key": token("regio:zuid-limburg", key=OTHER),
        "alg none": _b64({"alg": "none", "typ": "JWT"}) + "." + _b64(
            {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": nu + 300,
             "jeugdstroom_roles": ["regio:zuid-limburg"]}) + ".",
        "not a jwt": "abc.def",
    }
    for route in ROUTES:
        antwoord = client.get(route)
        assert antwoord.status_code == 401, route
        assert antwoord.headers["www-authenticate"].startswith('Bearer realm="jeugdstroom"')
        for waarom, tekst in slecht.items():
            antwoord = client.get(route, headers=header(tekst))
            assert antwoord.status_code == 401, (route, waarom)
            assert "www-authenticate" in antwoord.headers
            assert tekst not in antwoord.text and tekst not in antwoord.headers["www-authenticate"]
    assert client.get("/api/regions", headers=header(slecht["expired"])).json()["detail"] \
        == "the token has expired"
    # the health check and the docs need no token; the docs hold no data
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/openapi.json").status_code == 200
    # RSA keys of the same set work as well as EC ones
    assert client.get("/api/regions", headers=header(
        token("regio:zuid-limburg", key=RSA, alg="RS256"))).status_code == 200
    rows = audit_rows(projected)
    assert any(r.status == 401 and r.sub is None and r.route == "/api/diff" for r in rows)
    assert not any(t in r.parameters for r in rows for t in slecht.values())


def _waarden(counts: dict) -> list:
    return [s[k] for s in counts["segments"] for k in FIGURES] + [counts["totaal_unieke_jeugdigen"]]


def _klein(waarde: object) -> bool:
    """A count that suppression should have hidden."""
    return isinstance(waarde, int) and not isinstance(waarde, bool) and 0 < waarde < 10


def _onderdrukt(waarden: list) -> bool:
    """No count from 1 to 9 left; at least one is shown as <10."""
    return not any(_klein(w) for w in waarden) and "<10" in waarden


def test_a_gemeente_reads_its_own_detail_and_the_others_suppressed(client, projected):
    h = header(token(f"gemeente:{MAASTRICHT}", sub="analist-maastricht"))
    eigen = client.get(f"/api/counts?{Q}&gemeente={MAASTRICHT}", headers=h).json()
    wonen = next(s for s in eigen["segments"] if s["segment"] == "wonen")
    assert (wonen["instroom"], wonen["in_zorg"]) == (2, 3)  # exact: its own gemeente
    diff = client.get(f"{DIFF}&gemeente={MAASTRICHT}", headers=h)
    assert diff.status_code == 200
    assert [a["toewijzing"] for a in diff.json()["allocations"]] == ["0935:15"]
    assert client.get(f"/api/replay?{Q}&gemeente={MAASTRICHT}", headers=h).json()["agrees"]

    # never another gemeente's detail, nor the whole region's
    for route in (f"{DIFF}&gemeente={HEERLEN}", f"/api/replay?{Q}&gemeente={HEERLEN}", DIFF,
                  f"/api/replay?{Q}"):
        geweigerd = client.get(route, headers=h)
        assert geweigerd.status_code == 403, route
        assert "needs role" in geweigerd.json()["detail"]
    assert f"gemeente:{HEERLEN}" in client.get(f"{DIFF}&gemeente={HEERLEN}", headers=h).json()["detail"]
    dashboard = client.get(f"/?regio=zuid-limburg&gemeente={HEERLEN}", headers=h)
    assert dashboard.status_code == 403 and f"gemeente:{HEERLEN}" in dashboard.json()["detail"]
    # the dashboard opens on its own gemeente's page, without the side-by-side table
    eigen_pagina = client.get("/?regio=zuid-limburg&peildatum=2023-12-31", headers=h)
    assert eigen_pagina.status_code == 200 and "gemeente Maastricht (0935)" in eigen_pagina.text
    assert 'id="gemeenten"' not in eigen_pagina.text

    # the benchmark: Heerlen's and Meerssen's figures and the region's totals, suppressed
    heerlen = client.get(f"/api/counts?{Q}&gemeente={HEERLEN}", headers=h)
    assert heerlen.status_code == 200
    assert not any(_klein(w) for w in _waarden(heerlen.json()))
    meerssen = client.get(f"/api/counts?{Q}&gemeente={MEERSSEN}", headers=h).json()
    ambulant = next(s for s in meerssen["segments"] if s["segment"] == "ambulant")
    assert ambulant["instroom"] == "<10" and ambulant["recidive"] == 0
    regio = client.get(f"/api/counts?{Q}", headers=h).json()
    assert _onderdrukt(_waarden(regio))
    crisis = next(s for s in regio["segments"] if s["segment"] == "crisis")
    assert crisis["instroom"] is None  # n.v.t. stays n.v.t.
    csv = client.get(f"/api/counts?{Q}&gemeente={MEERSSEN}&format=csv", headers=h).text
    assert "ambulant,Ambulant,<10" in csv
    rijen = {r["gemeente"]: r for r in client.get(f"/api/gemeenten?{Q}", headers=h).json()}
    assert next(s for s in rijen[MAASTRICHT]["counts"]["segments"]
                if s["segment"] == "wonen")["instroom"] == 2
    assert _onderdrukt(_waarden(rijen[MEERSSEN]["counts"]))
    assert set(rijen[MEERSSEN]["share_of_region"].values()) == {None}
    reeks = client.get("/api/timeseries?region=zuid-limburg&from_month=2023-01&to_month=2023-12",
                       headers=h).json()
    assert _onderdrukt([r[k] for r in reeks for k in ("instroom", "uitstroom", "in_zorg")])

    # another region: nothing at all
    assert [r["id"] for r in client.get("/api/regions", headers=h).json()] == ["zuid-limburg"]
    assert client.get("/api/counts?region=een-10-voor-de-jeugd&peildatum=2023-12-31",
                      headers=h).status_code == 403
    assert client.get("/api/regions/een-10-voor-de-jeugd", headers=h).status_code == 403

    rows = [r for r in audit_rows(projected) if r.sub == "analist-maastricht"]
    gelezen = [(r.route, r.status) for r in rows if f"gemeente={MAASTRICHT}" in r.parameters]
    assert ("/api/diff", 200) in gelezen and ("/api/replay", 200) in gelezen
    geweigerd = [r for r in rows if r.status == 403]
    assert {r.route for r in geweigerd} >= {"/api/diff", "/api/replay", "/"}
    assert all(r.reden.startswith("denied: ") and r.rol == f"gemeente:{MAASTRICHT}" for r in geweigerd)
    assert any(r.route == "/api/counts" and "suppressed" in r.reden for r in rows)


@pytest.mark.parametrize("rol", ["regio:zuid-limburg", "auditor:zuid-limburg"])
def test_regio_and_auditor_read_all_of_their_region_and_nothing_else(client, projected, rol):
    h = header(token(rol, sub=f"{rol.split(':')[0]}-medewerker"))
    for route in ROUTES:
        assert client.get(route, headers=h).status_code == 200, route
    diff = client.get(DIFF, headers=h).json()
    assert [a["toewijzing"] for a in diff["allocations"]] == ["0935:15"]
    rijen = {r["gemeente"]: r for r in client.get(f"/api/gemeenten?{Q}", headers=h).json()}
    ambulant = next(s for s in rijen[MEERSSEN]["counts"]["segments"] if s["segment"] == "ambulant")
    assert ambulant["instroom"] == 1  # exact for the region's own roles
    assert [r["id"] for r in client.get("/api/regions", headers=h).json()] == ["zuid-limburg"]
    ander = "region=een-10-voor-de-jeugd&peildatum=2023-12-31"
    for route in (f"/api/counts?{ander}", f"/api/replay?{ander}", f"/api/gemeenten?{ander}",
                  f"/api/diff?{ander}&known_at=2023-12-31&known_at=2024-12-31",
                  "/api/regions/een-10-voor-de-jeugd", "/?regio=een-10-voor-de-jeugd"):
        geweigerd = client.get(route, headers=h)
        assert geweigerd.status_code == 403, route
        assert "een-10-voor-de-jeugd" in geweigerd.json()["detail"]
    rows = audit_rows(projected)
    assert any(r.route == "/api/diff" and r.status == 200 and r.rol == rol for r in rows)
    assert any(r.route == "/" and r.status == 403 and "regio=een-10" in r.parameters for r in rows)


def test_a_subscriber_and_a_token_without_roles_read_nothing_over_http(client, projected):
    for rollen, woord in ((["subscriber"], "NATS"), ([], "no jeugdstroom role"),
                          (["beheerder", "regio:nergens"], "no jeugdstroom role")):
        h = header(token(*rollen, sub="dienst"))
        for route in ROUTES:
            antwoord = client.get(route, headers=h)
            assert antwoord.status_code == 403, (rollen, route)
            assert woord in antwoord.json()["detail"]
    assert sum(r.sub == "dienst" and r.status == 403 for r in audit_rows(projected)) == 3 * len(ROUTES)


def test_the_dashboard_login_link_sets_an_httponly_cookie_and_keeps_the_token_out(client, projected):
    tekst = token("regio:zuid-limburg", sub="browser")
    login = client.get(f"/login?token={tekst}&regio=zuid-limburg&peildatum=2023-12-31")
    assert login.status_code == 303
    assert login.headers["location"] == "/?regio=zuid-limburg&peildatum=2023-12-31"
    cookie = login.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
    pagina = client.get("/?regio=zuid-limburg&peildatum=2023-12-31")  # the client keeps the cookie
    assert pagina.status_code == 200 and 'id="tabel"' in pagina.text
    client.cookies.clear()
    assert client.get(f"/login?token={tekst[:-4]}AAAA").status_code == 401
    assert client.get("/").status_code == 401
    assert not any(tekst in r.parameters or tekst[:-4] in r.parameters for r in audit_rows(projected))


def test_a_route_without_an_access_rule_is_closed(app, client, projected):
    @app.get("/api/nieuw")
    def nieuw() -> dict[str, int]:
        return {"geheim": 1}

    antwoord = client.get("/api/nieuw", headers=header(token("regio:zuid-limburg")))
    assert antwoord.status_code == 403 and "no access rule" in antwoord.json()["detail"]
    assert "geheim" not in antwoord.text
    assert client.get("/api/nieuw").status_code == 401


def test_a_router_of_figures_without_a_suppressed_form_is_for_full_readers(app, client):
    """As the money routes are included: `vereis_volledig` as the router's dependency."""
    router = APIRouter()

    @router.get("/api/bedragen")
    def bedragen(region: str, gemeente: str | None = None) -> dict[str, int]:
        return {"eurocent": 123}

    app.include_router(router, dependencies=[Depends(vereis_volledig)])
    maastricht = header(token(f"gemeente:{MAASTRICHT}"))
    for vraag, status in ((f"gemeente={MAASTRICHT}", 200), ("gemeente=maastricht", 200),
                          ("gemeente=935", 200), ("", 403), (f"gemeente={MEERSSEN}", 403),
                          ("gemeente=onbekend", 403)):
        antwoord = client.get(f"/api/bedragen?region=zuid-limburg&{vraag}", headers=maastricht)
        assert antwoord.status_code == status, vraag
    assert f"gemeente:{MEERSSEN}" in client.get(
        f"/api/bedragen?region=zuid-limburg&gemeente={MEERSSEN}", headers=maastricht).json()["detail"]
    regio = header(token("regio:zuid-limburg"))
    assert client.get("/api/bedragen?region=zuid-limburg", headers=regio).status_code == 200
    assert client.get("/api/bedragen?region=een-10-voor-de-jeugd", headers=regio).status_code == 403


def test_serve_as_built_on_loopback_guards_the_money_routes_too(settings, projected):
    """The app as `serve` builds it (local key): the money router is covered as well."""
    web = TestClient(bootstrap.api(settings, settings.database_url))
    geld = "/api/costs?region=zuid-limburg&peildatum=2023-12-31"

    def met(*rollen: str) -> dict[str, str]:
        return header(maak_token(settings.state_dir, list(rollen), minuten=5, sub="geld"))

    assert web.get(geld).status_code == 401
    assert web.get(f"{geld}&gemeente={MAASTRICHT}", headers=met(f"gemeente:{MAASTRICHT}")).status_code == 200
    for vraag in (f"&gemeente={MEERSSEN}", ""):
        geweigerd = web.get(geld + vraag, headers=met(f"gemeente:{MAASTRICHT}"))
        assert geweigerd.status_code == 403 and "regio:zuid-limburg" in geweigerd.json()["detail"]
    assert web.get(geld, headers=met("regio:zuid-limburg")).status_code == 200
    assert web.get("/api/costs?region=een-10-voor-de-jeugd&peildatum=2023-12-31",
                   headers=met("regio:zuid-limburg")).status_code == 403
    assert web.get(geld, headers=met("subscriber")).status_code == 403


def test_the_audit_command_lists_who_asked_what(settings, monkeypatch):
    store = bootstrap.event_store(settings.database_url)
    audit = bootstrap.toegang_audit(store)
    nu = datetime.now(UTC)
    audit.voeg_toe(AuditRegel(nu - timedelta(days=3), "analist-1", "gemeente:0935", "/api/diff",
                              "gemeente=0935", 200, "detail"))
    audit.voeg_toe(AuditRegel(nu, None, None, "/api/counts", "region=zuid-limburg", 401,
                              "denied: the token has expired"))
    store.close()
    for naam, waarde in (("NATS_URL", settings.nats_url), ("DATABASE_URL", settings.database_url),
                         ("STATE_DIR", str(settings.state_dir))):
        monkeypatch.setenv(f"JEUGDSTROOM_{naam}", waarde)
    alles = CliRunner().invoke(cli, ["audit"])
    assert alles.exit_code == 0 and "/api/diff" in alles.output and "/api/counts" in alles.output
    wie = CliRunner().invoke(cli, ["audit", "--who", "analist-1"])
    assert "/api/diff" in wie.output and "/api/counts" not in wie.output
    sinds = CliRunner().invoke(cli, ["audit", "--since", (nu - timedelta(days=1)).strftime("%Y-%m-%d")])
    assert "/api/counts" in sinds.output and "/api/diff" not in sinds.output


ROLLEN = ["gemeente:0935", "gemeente:0938", "regio:zuid-limburg", "auditor:een-10-voor-de-jeugd",
          "subscriber"]
DATES = st.one_of(st.dates(date(2015, 1, 1), date(2030, 12, 31)).map(date.isoformat),
                  st.text(max_size=10))
VALUES = {
    "region": st.sampled_from(["zuid-limburg", "een-10-voor-de-jeugd", "nergens"]),
    "gemeente": st.one_of(st.none(), st.sampled_from([MAASTRICHT, MEERSSEN, HEERLEN, "0772", "12"])),
    "format": st.sampled_from(["json", "csv"]),
    "from_month": st.sampled_from(["2023-01", "2022-06", "2023-13"]),
    "to_month": st.sampled_from(["2023-12", "2023-06"]),
    "publication": st.sampled_from(["true", "false"]),
}


def test_property_based_per_role_never_a_500_never_another_gemeentes_detail(client):
    """Over every GET route and parameter of /openapi.json, for each role."""
    document = client.get("/openapi.json").json()
    routes = [(path, [p["name"] for p in op["get"].get("parameters", [])])
              for path, op in document["paths"].items() if "get" in op and "{" not in path]
    tokens = {rol: header(token(rol, sub="eigenschap")) for rol in ROLLEN}

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(ROLLEN), st.sampled_from(routes), st.data())
    def run(rol, route, data):
        path, names = route
        params = []
        for name in names:
            if name == "known_at" and path == "/api/diff":
                params += [("known_at", "2023-12-31"), ("known_at", "2025-01-01")]
            elif data.draw(st.booleans()):
                waarde = data.draw(VALUES.get(name, DATES))
                if waarde is not None:
                    params.append((name, waarde))
        antwoord = client.get(path, params=params, headers=tokens[rol])
        assert antwoord.status_code < 500, (rol, path, params, antwoord.text[:300])
        if rol == "subscriber" and path != "/healthz":
            assert antwoord.status_code == 403
        if antwoord.status_code != 200 or rol.startswith("regio:") or path == "/healthz":
            return
        soort, waarde = rol.split(":")
        regio = dict(params).get("region")
        if soort == "auditor":
            assert regio == waarde or path in ("/api/regions", "/healthz"), (rol, path, params)
            return
        eigen = dict(params).get("gemeente") == waarde
        if path in ("/api/diff", "/api/replay"):
            assert eigen, (rol, path, params)
            if path == "/api/diff":
                assert all(a["toewijzing"].startswith(f"{waarde}:")
                           for a in antwoord.json()["allocations"])
        if path in ("/api/counts", "/api/timeseries") and not eigen:
            if antwoord.headers["content-type"].startswith("text/csv"):
                cellen = [c for regel in antwoord.text.splitlines() if not regel.startswith("#")
                          for c in regel.split(",")]
                assert not any(c.isdigit() and 0 < int(c) < 10 for c in cellen), (rol, params)
            else:
                inhoud = antwoord.json()
                rijen = inhoud["segments"] if path == "/api/counts" else inhoud
                assert not any(_klein(v) for r in rijen for v in r.values()), (rol, params)
        if path == "/api/gemeenten" and antwoord.headers["content-type"].startswith("application/json"):
            for rij in antwoord.json():
                if rij["gemeente"] != waarde:
                    assert not any(_klein(v) for s in rij["counts"]["segments"] for v in s.values())

    run()
