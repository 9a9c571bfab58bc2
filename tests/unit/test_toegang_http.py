"""The access wiring without servers: suppression of a benchmark read, the safe defaults of
`serve`, the local token and the NATS configuration commands."""

from __future__ import annotations

import stat

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from services import bootstrap
from services.cli import app
from services.http.toegang import onderdruk, onderdrukte_telling
from services.settings import Settings
from services.toegang.tokens import LOKAAL_ISSUER, TokenVerificateur, lokale_instellingen

RUNNER = CliRunner()


def test_suppression_is_the_publication_csvs():
    assert [onderdruk(w, 10) for w in (None, 0, 1, 9, 10, 250)] == [None, 0, "<10", "<10", 10, 250]
    telling = {"region": "zuid-limburg", "gemeente": "0938", "warnings": [],
               "segments": [{"segment": "wonen", "name": "Wonen", "flow": True, "instroom": 3,
                             "stapeling": 0, "in_zorg": 12, "recidive": None}],
               "unmapped_toewijzingen": 1, "totaal_unieke_jeugdigen": 14}
    uit = onderdrukte_telling(telling, 10)
    assert uit["segments"] == [{"segment": "wonen", "name": "Wonen", "flow": True,
                                "instroom": "<10", "stapeling": 0, "in_zorg": 12,
                                "recidive": None}]
    assert (uit["unmapped_toewijzingen"], uit["totaal_unieke_jeugdigen"]) == ("<10", 14)
    assert telling["segments"][0]["instroom"] == 3  # the original is left alone


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "jeugdstroom.example", "::"])  # noqa: S104
def test_serve_elsewhere_than_loopback_needs_the_identity_provider(host, tmp_path):
    settings = Settings(state_dir=tmp_path)
    with pytest.raises(bootstrap.ConfigurationError, match="JEUGDSTROOM_AUTH_JWKS"):
        bootstrap.token_instellingen(settings, host)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_loopback_without_settings_uses_the_local_key(host, tmp_path):
    instellingen = bootstrap.token_instellingen(Settings(state_dir=tmp_path), host)
    assert instellingen.issuer == LOKAAL_ISSUER
    assert (tmp_path / "toegang" / "jwks.json").exists()


def test_the_identity_providers_settings_win_and_come_together(tmp_path):
    settings = Settings(state_dir=tmp_path, auth_jwks="https://sso.example/certs",
                        auth_issuer="https://sso.example", auth_audience="jeugdstroom",
                        auth_roles_claim="roles")
    instellingen = bootstrap.token_instellingen(settings, "0.0.0.0")  # noqa: S104
    assert (instellingen.jwks, instellingen.rollen_claim) == ("https://sso.example/certs", "roles")
    with pytest.raises(ValidationError, match="all three"):
        Settings(auth_jwks="https://sso.example/certs")
    with pytest.raises(bootstrap.ConfigurationError, match="https URL"):
        bootstrap.token_instellingen(Settings(auth_jwks="http://sso.example/certs",
                                              auth_issuer="i", auth_audience="a"), "127.0.0.1")


def test_serve_on_a_public_address_refuses_before_starting_anything(tmp_path, monkeypatch):
    monkeypatch.setenv("JEUGDSTROOM_STATE_DIR", str(tmp_path))
    result = RUNNER.invoke(app, ["serve", "--host", "0.0.0.0"])  # noqa: S104
    assert result.exit_code == 2
    assert "--insecure-no-auth" in " ".join(result.output.split())
    assert not (tmp_path / "runtime.json").exists()


def test_token_prints_a_token_the_local_key_verifies(tmp_path, monkeypatch):
    monkeypatch.setenv("JEUGDSTROOM_STATE_DIR", str(tmp_path))
    result = RUNNER.invoke(app, ["token", "--role", "regio:zuid-limburg", "--minutes", "5",
                                 "--sub", "ik"])
    assert result.exit_code == 0
    tekst = result.stdout.strip().splitlines()[0]
    aanroeper = TokenVerificateur(lokale_instellingen(tmp_path)).verifieer(tekst)
    assert (aanroeper.sub, aanroeper.rol_teksten) == ("ik", ["regio:zuid-limburg"])
    fout = RUNNER.invoke(app, ["token", "--role", "regio:Zuid Limburg"])
    assert fout.exit_code == 2 and "region id" in " ".join(fout.output.split())
    monkeypatch.setenv("JEUGDSTROOM_AUTH_JWKS", "https://sso.example/certs")
    monkeypatch.setenv("JEUGDSTROOM_AUTH_ISSUER", "https://sso.example")
    monkeypatch.setenv("JEUGDSTROOM_AUTH_AUDIENCE", "jeugdstroom")
    assert RUNNER.invoke(app, ["token", "--role", "regio:zuid-limburg"]).exit_code == 2


def test_nats_config_for_a_region(tmp_path):
    out = tmp_path / "nats"
    result = RUNNER.invoke(app, ["nats-config", "--region", "een-10-voor-de-jeugd", "--out", str(out),
                                 "--subscriber", "bi"])
    assert result.exit_code == 0, result.output
    config = (out / "nats-server.conf").read_text()
    assert '"ijw.0772.>"' in config and "_INBOX.>" not in config and "tls {" in config
    credentials = out / "credentials" / "gemeente-0772.env"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    wachtwoord = next(r.split("=", 1)[1] for r in credentials.read_text().splitlines()
                      if r.startswith("NATS_PASSWORD="))
    assert wachtwoord not in config  # only its bcrypt hash
    assert (out / "credentials" / "subscriber-bi.env").exists()
    again = RUNNER.invoke(app, ["nats-config", "--region", "een-10-voor-de-jeugd", "--out", str(out)])
    assert again.exit_code == 2 and "--overwrite" in " ".join(again.output.split())
    assert RUNNER.invoke(app, ["nats-config", "--region", "nergens", "--out", str(out)]).exit_code == 2


def test_serve_prints_a_ready_dashboard_link_on_loopback(tmp_path, monkeypatch, capsys):
    import uvicorn

    from services.cli import beheer

    monkeypatch.setattr(bootstrap, "api", lambda *args, **kwargs: object())
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)
    beheer._serve(Settings(state_dir=tmp_path), "postgresql://unused", None, "127.0.0.1", 0,
                  dashboard="regio=zuid-limburg&peildatum=2023-12-31")
    uit = " ".join(capsys.readouterr().out.split())
    link = next(w for w in uit.split() if "/login?token=" in w)
    assert link.endswith("&regio=zuid-limburg&peildatum=2023-12-31")
    tekst = link.split("token=")[1].split("&")[0]
    aanroeper = TokenVerificateur(lokale_instellingen(tmp_path)).verifieer(tekst)
    assert aanroeper.rol_teksten == ["regio:zuid-limburg"]
    beheer._serve(Settings(state_dir=tmp_path), "postgresql://unused", None, "127.0.0.1", 0,
                  insecure_no_auth=True)
    captured = capsys.readouterr()
    assert "WARNING: --insecure-no-auth" in " ".join(captured.err.split())
    assert "token=" not in captured.out
