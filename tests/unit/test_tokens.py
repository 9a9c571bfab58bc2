"""Bearer token verification: what passes, what is refused and why, and the local key.

Tokens made here are test tokens; still, no assertion message prints one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import stat
from pathlib import Path

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, OKPKey, RSAKey

from services.toegang.rollen import OngeldigeRol, Rol, Soort
from services.toegang.tokens import (
    LOKAAL_AUDIENCE,
    LOKAAL_ISSUER,
    Aanroeper,
    JwksBron,
    JwksFout,
    TokenFout,
    TokenInstellingen,
    TokenVerificateur,
    lokale_instellingen,
    lokale_sleutel,
    maak_token,
)

ISSUER = "https://sso.zuid-limburg.example/realms/jeugd"
AUDIENCE = "jeugdstroom-api"
NU = 1_800_000_000


class Klok:
    def __init__(self, t: float = 0.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def ec(kid: str) -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": kid, "use": "sig"})


def schrijf_jwks(pad: Path, *sleutels) -> None:
    pad.write_text(json.dumps({"keys": [k.as_dict(private=False) for k in sleutels]}))


def teken(sleutel, alg: str = "ES256", kid: str | None = "a", **claims) -> str:
    inhoud = {"iss": ISSUER, "aud": AUDIENCE, "sub": "medewerker-17", "iat": NU, "nbf": NU,
              "exp": NU + 300, "jeugdstroom_roles": ["gemeente:0935"]}
    inhoud.update(claims)
    inhoud = {k: v for k, v in inhoud.items() if v is not None}
    kop = {"alg": alg, "typ": "JWT", **({"kid": kid} if kid else {})}
    return jwt.encode(kop, inhoud, sleutel, algorithms=[alg])


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.fixture
def sleutel_a() -> ECKey:
    return ec("a")


@pytest.fixture
def jwks_pad(tmp_path, sleutel_a) -> Path:
    pad = tmp_path / "jwks.json"
    schrijf_jwks(pad, sleutel_a)
    return pad


@pytest.fixture
def klok() -> Klok:
    return Klok(1000.0)


@pytest.fixture
def verificateur(jwks_pad, klok) -> TokenVerificateur:
    instellingen = TokenInstellingen(jwks=str(jwks_pad), issuer=ISSUER, audience=AUDIENCE)
    return TokenVerificateur(instellingen, bron=JwksBron(str(jwks_pad), klok=klok),
                             bekende_regios={"zuid-limburg"}, nu=lambda: NU)


def weigert(verificateur: TokenVerificateur, token: str, reden: str) -> TokenFout:
    with pytest.raises(TokenFout) as fout:
        verificateur.verifieer(token)
    lekt = token in str(fout.value) or token in fout.value.www_authenticate
    assert not lekt, "the error message contains the token"
    assert reden in fout.value.reden
    return fout.value


# -- what passes --------------------------------------------------------------------------------


def test_a_valid_token_names_the_caller_and_its_roles(verificateur, sleutel_a):
    token = teken(sleutel_a, jeugdstroom_roles=["gemeente:0935", "regio:zuid-limburg"])
    assert verificateur.verifieer(token) == Aanroeper(
        sub="medewerker-17",
        rollen=(Rol(Soort.GEMEENTE, "0935"), Rol(Soort.REGIO, "zuid-limburg")))
    assert verificateur.uit_header(f"Bearer {token}").sub == "medewerker-17"


def test_unknown_roles_are_ignored_with_a_reason(verificateur, sleutel_a):
    token = teken(sleutel_a, jeugdstroom_roles=["regio:noord-limburg", "beheerder", "subscriber"])
    aanroeper = verificateur.verifieer(token)
    assert aanroeper.rollen == (Rol(Soort.ABONNEE),)
    assert [g.tekst for g in aanroeper.genegeerde_rollen] == ["regio:noord-limburg", "beheerder"]


def test_the_roles_claim_can_be_another_for_entra_id(jwks_pad, sleutel_a):
    instellingen = TokenInstellingen(str(jwks_pad), ISSUER, AUDIENCE, rollen_claim="roles")
    v = TokenVerificateur(instellingen, nu=lambda: NU)
    token = teken(sleutel_a, jeugdstroom_roles=["regio:zuid-limburg"], roles=["auditor:zuid-limburg"])
    assert v.verifieer(token).rollen == (Rol(Soort.AUDITOR, "zuid-limburg"),)


def test_without_the_roles_claim_the_caller_has_no_roles(verificateur, sleutel_a):
    assert verificateur.verifieer(teken(sleutel_a, jeugdstroom_roles=None)).rollen == ()


def test_the_audience_may_be_one_of_several(verificateur, sleutel_a):
    token = teken(sleutel_a, aud=["account", AUDIENCE])
    assert verificateur.verifieer(token).sub == "medewerker-17"


def test_a_little_clock_skew_is_tolerated(verificateur, sleutel_a):
    assert verificateur.verifieer(teken(sleutel_a, exp=NU - 30, nbf=NU + 30, iat=NU + 30))


@pytest.mark.parametrize(("sleutel", "alg"), [
    (RSAKey.generate_key(2048, parameters={"kid": "r"}), "RS256"),
    (RSAKey.generate_key(2048, parameters={"kid": "r"}), "PS256"),
    (OKPKey.generate_key("Ed25519", parameters={"kid": "r"}), "EdDSA"),  # RFC 9864 deprecates it,
    (OKPKey.generate_key("Ed25519", parameters={"kid": "r"}), "Ed25519"),  # but Keycloak signs so
    (ECKey.generate_key("P-384", parameters={"kid": "r"}), "ES384"),
])
@pytest.mark.filterwarnings("ignore:EdDSA is deprecated")
def test_the_usual_asymmetric_algorithms_pass(tmp_path, sleutel, alg):
    pad = tmp_path / "jwks.json"
    schrijf_jwks(pad, sleutel)
    v = TokenVerificateur(TokenInstellingen(str(pad), ISSUER, AUDIENCE), nu=lambda: NU)
    assert v.verifieer(teken(sleutel, alg=alg, kid="r")).sub == "medewerker-17"


# -- what is refused ----------------------------------------------------------------------------


def test_expired(verificateur, sleutel_a):
    weigert(verificateur, teken(sleutel_a, exp=NU - 120), "expired")


def test_not_yet_valid(verificateur, sleutel_a):
    weigert(verificateur, teken(sleutel_a, nbf=NU + 600), "not valid yet")


def test_issued_in_the_future(verificateur, sleutel_a):
    weigert(verificateur, teken(sleutel_a, iat=NU + 600), "future")


def test_wrong_audience(verificateur, sleutel_a):
    weigert(verificateur, teken(sleutel_a, aud="another-api"), "another audience")


def test_wrong_issuer(verificateur, sleutel_a):
    weigert(verificateur, teken(sleutel_a, iss="https://evil.example/"), "another issuer")


@pytest.mark.parametrize("claim", ["exp", "sub", "iss", "aud"])
def test_required_claims(verificateur, sleutel_a, claim):
    weigert(verificateur, teken(sleutel_a, **{claim: None}), f"lacks the claim {claim}")


def test_signed_by_another_key_under_a_known_kid(verificateur):
    weigert(verificateur, teken(ec("a"), kid="a"), "signature is not valid")


def test_signed_by_a_key_that_is_not_in_the_set(verificateur):
    weigert(verificateur, teken(ec("x"), kid="x"), "not in the key set")


def test_alg_none(verificateur):
    kop = {"alg": "none", "typ": "JWT", "kid": "a"}
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": NU + 300,
              "jeugdstroom_roles": ["regio:zuid-limburg"]}
    for token in (f"{b64(kop)}.{b64(claims)}.", f"{b64(kop)}.{b64(claims)}"):
        fout = weigert(verificateur, token, "")
        assert "signed with one of" in fout.reden or "not a signed JWT" in fout.reden


def test_hs256_signed_with_the_public_key_is_refused(tmp_path):
    """The HS/RS confusion: the RSA public key, public anyway, used as an HMAC secret."""
    rsa = RSAKey.generate_key(2048, parameters={"kid": "r"})
    pad = tmp_path / "jwks.json"
    schrijf_jwks(pad, rsa)
    v = TokenVerificateur(TokenInstellingen(str(pad), ISSUER, AUDIENCE), nu=lambda: NU)
    kop = b64({"alg": "HS256", "typ": "JWT", "kid": "r"})
    claims = b64({"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": NU + 300,
                  "jeugdstroom_roles": ["regio:zuid-limburg"]})
    # joserfc will not even make such a key, so sign by hand
    mac = hmac.new(rsa.as_pem(private=False), f"{kop}.{claims}".encode(), hashlib.sha256)
    token = f"{kop}.{claims}.{base64.urlsafe_b64encode(mac.digest()).rstrip(b'=').decode()}"
    weigert(v, token, "signed with one of")
    instellingen = TokenInstellingen(str(pad), ISSUER, AUDIENCE, algoritmen=("RS256",))
    weigert(TokenVerificateur(instellingen, nu=lambda: NU), token, "signed with one of RS256")


def test_symmetric_algorithms_cannot_be_allowed():
    for alg in ("HS256", "none"):
        with pytest.raises(ValueError, match="not allowed"):
            TokenInstellingen("jwks.json", ISSUER, AUDIENCE, algoritmen=(alg,))


def test_a_token_whose_algorithm_does_not_fit_its_key(tmp_path):
    rsa = RSAKey.generate_key(2048, parameters={"kid": "r"})
    pad = tmp_path / "jwks.json"
    schrijf_jwks(pad, rsa)
    v = TokenVerificateur(TokenInstellingen(str(pad), ISSUER, AUDIENCE), nu=lambda: NU)
    token = teken(ECKey.generate_key("P-256"), alg="ES256", kid="r")
    with pytest.raises(TokenFout):
        v.verifieer(token)


def test_an_algorithm_outside_the_pinned_list(jwks_pad, sleutel_a):
    instellingen = TokenInstellingen(str(jwks_pad), ISSUER, AUDIENCE, algoritmen=("RS256",))
    v = TokenVerificateur(instellingen, nu=lambda: NU)
    weigert(v, teken(sleutel_a), "signed with one of RS256")


@pytest.mark.parametrize("waarde", ["", "zzz", "a.b.c", "Bearer", "x" * 20_000])
def test_garbage(verificateur, waarde):
    with pytest.raises(TokenFout):
        verificateur.verifieer(waarde)


@pytest.mark.parametrize("header", [None, "", "Basic dXNlcjpwdw==", "Bearer ", "Token abc"])
def test_the_authorization_header(verificateur, header):
    with pytest.raises(TokenFout) as fout:
        verificateur.uit_header(header)
    assert fout.value.fout == "invalid_request"
    assert fout.value.www_authenticate.startswith('Bearer realm="jeugdstroom", error="invalid_request"')


def test_www_authenticate_for_an_invalid_token(verificateur, sleutel_a):
    fout = weigert(verificateur, teken(sleutel_a, exp=NU - 120), "expired")
    assert fout.www_authenticate == ('Bearer realm="jeugdstroom", error="invalid_token", '
                                     'error_description="the token has expired"')


# -- the key set --------------------------------------------------------------------------------


def test_an_unknown_kid_reads_the_key_set_once_more(verificateur, jwks_pad, sleutel_a, klok):
    bron = verificateur.bron
    assert verificateur.verifieer(teken(sleutel_a))
    assert bron.lezingen == 1
    sleutel_b = ec("b")
    klok.t += 60
    schrijf_jwks(jwks_pad, sleutel_a, sleutel_b)  # the identity provider rotated its keys
    assert verificateur.verifieer(teken(sleutel_b, kid="b"))
    assert bron.lezingen == 2
    assert verificateur.verifieer(teken(sleutel_b, kid="b"))  # cached now
    assert bron.lezingen == 2


def test_made_up_kids_do_not_flood_the_identity_provider(verificateur, sleutel_a, klok):
    bron = verificateur.bron
    verificateur.verifieer(teken(sleutel_a))
    for i in range(20):
        weigert(verificateur, teken(ec(f"x{i}"), kid=f"x{i}"), "not in the key set")
    assert bron.lezingen == 1  # within min_interval of the first read
    klok.t += bron.min_interval
    weigert(verificateur, teken(ec("y"), kid="y"), "not in the key set")
    weigert(verificateur, teken(ec("z"), kid="z"), "not in the key set")
    assert bron.lezingen == 2


def test_an_https_key_set_is_fetched_cached_and_kept_when_the_provider_is_down(sleutel_a, klok):
    antwoorden = [json.dumps({"keys": [sleutel_a.as_dict(private=False)]}).encode()]
    gevraagd = []

    def ophalen(url: str) -> bytes:
        gevraagd.append(url)
        if not antwoorden:
            raise OSError("connection refused")
        return antwoorden.pop(0)

    url = "https://sso.zuid-limburg.example/realms/jeugd/protocol/openid-connect/certs"
    bron = JwksBron(url, klok=klok, ophalen=ophalen)
    v = TokenVerificateur(TokenInstellingen(url, ISSUER, AUDIENCE), bron=bron, nu=lambda: NU)
    assert v.verifieer(teken(sleutel_a))
    assert v.verifieer(teken(sleutel_a))
    assert gevraagd == [url]
    klok.t += bron.max_leeftijd + 1  # stale: read again, fails, the old keys still serve
    assert v.verifieer(teken(sleutel_a))
    assert len(gevraagd) == 2


def test_a_key_set_that_cannot_be_read_is_the_services_problem(tmp_path, sleutel_a):
    v = TokenVerificateur(TokenInstellingen(str(tmp_path / "missing.json"), ISSUER, AUDIENCE),
                          nu=lambda: NU)
    with pytest.raises(JwksFout, match="could not be read"):
        v.verifieer(teken(sleutel_a))


@pytest.mark.parametrize("jwks", ["http://sso.example/certs", "ftp://sso.example/certs"])
def test_keys_only_over_https_or_from_a_file(jwks):
    with pytest.raises(ValueError, match="https"):
        TokenInstellingen(jwks, ISSUER, AUDIENCE)


def test_symmetric_keys_in_the_set_are_never_used(tmp_path):
    geheim = OctKey.generate_key(256, parameters={"kid": "h"})
    pad = tmp_path / "jwks.json"
    pad.write_text(json.dumps({"keys": [geheim.as_dict(private=True)]}))
    v = TokenVerificateur(TokenInstellingen(str(pad), ISSUER, AUDIENCE), nu=lambda: NU)
    weigert(v, teken(ec("h"), kid="h"), "not in the key set")


# -- the local key of the embedded default ------------------------------------------------------


def test_the_local_key_is_made_once_private_and_its_tokens_verify(tmp_path):
    jwks = lokale_sleutel(tmp_path)
    prive = next(p for p in (tmp_path / "toegang").iterdir() if p.name.startswith("signing"))
    assert stat.S_IMODE(prive.stat().st_mode) == 0o600
    eerst = json.loads(jwks.read_text())
    assert all("d" not in k for k in eerst["keys"])  # the public set holds no private part
    assert lokale_sleutel(tmp_path) == jwks and json.loads(jwks.read_text()) == eerst

    token = maak_token(tmp_path, ["regio:zuid-limburg"], minuten=5, sub="demo")
    instellingen = lokale_instellingen(tmp_path)
    assert (instellingen.issuer, instellingen.audience) == (LOKAAL_ISSUER, LOKAAL_AUDIENCE)
    aanroeper = TokenVerificateur(instellingen).verifieer(token)
    assert aanroeper == Aanroeper("demo", (Rol(Soort.REGIO, "zuid-limburg"),))


def test_a_local_token_expires(tmp_path):
    import time

    token = maak_token(tmp_path, ["auditor:zuid-limburg"], minuten=1)
    v = TokenVerificateur(lokale_instellingen(tmp_path), nu=lambda: time.time() + 3600)
    weigert(v, token, "expired")


def test_a_local_token_with_a_mistyped_role_is_not_made(tmp_path):
    with pytest.raises(OngeldigeRol):
        maak_token(tmp_path, ["regio:Zuid Limburg"])
    with pytest.raises(ValueError, match="minutes"):
        maak_token(tmp_path, ["subscriber"], minuten=0)


def test_a_local_key_readable_by_others_is_refused(tmp_path):
    lokale_sleutel(tmp_path)
    prive = next(p for p in (tmp_path / "toegang").iterdir() if p.name.startswith("signing"))
    prive.chmod(0o644)
    with pytest.raises(PermissionError, match="chmod 600"):
        maak_token(tmp_path, ["subscriber"])


def test_another_state_dirs_key_does_not_verify(tmp_path):
    token = maak_token(tmp_path / "een", ["regio:zuid-limburg"])
    v = TokenVerificateur(lokale_instellingen(tmp_path / "twee"))
    with pytest.raises(TokenFout):
        v.verifieer(token)
