"""Bearer tokens: OIDC/OAuth2 JWTs from the region's identity provider, verified with joserfc.

What is checked, in this order: the header names an allowed asymmetric algorithm (never
`none`, never an HS* algorithm, so a token "signed" with the public key as an HMAC secret
cannot pass); the key is taken from the JSON Web Key Set by `kid`; the signature; then `iss`,
`aud`, `exp` and `nbf` (and `iat` not in the future), with a small leeway for clock skew;
`exp` and `sub` are required. Roles come from the claim `jeugdstroom_roles` (see rollen.py;
another claim name can be set for identity providers that cannot emit that one).

The key set is a file path or an https URL. It is read once and cached; a token with a `kid`
that is not in the cache makes one new read, at most once per `min_interval` seconds, so a
flood of made-up kids cannot turn into a flood of requests to the identity provider. An URL
is also read again after `max_leeftijd`, for keys that were rotated out.

No error ever contains the token or a claim value from it, only what was wrong.

The embedded default (`jeugdstroom serve` on loopback without auth settings) uses a local
ES256 key in the state dir, made by `lokale_sleutel`; `maak_token` signs tokens with it for
`jeugdstroom token --role ...`.
"""

from __future__ import annotations

import json
import os
import stat
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from joserfc import jws, jwt
from joserfc.errors import (
    BadSignatureError,
    ClaimError,
    ExpiredTokenError,
    InvalidClaimError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import ECKey, Key, KeySet

from services.toegang.rollen import ROLLEN_CLAIM, GenegeerdeRol, Rol, lees_rol, lees_rollen

# Asymmetric only: with these a verifier holds nothing that can sign.
ALGORITMEN: tuple[str, ...] = (
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
    "ES256", "ES384", "ES512", "EdDSA", "Ed25519",
)
LEEWAY_SECONDEN = 60
MAX_TOKEN_LENGTE = 16_384  # a header line, not a document

# The embedded default's own issuer and audience (a deployment sets its identity provider's).
LOKAAL_ISSUER = "urn:jeugdstroom:lokaal"
LOKAAL_AUDIENCE = "jeugdstroom"
LOKAAL_ALGORITME = "ES256"
_SLEUTEL_MAP = "toegang"
_PRIVE = "signing-key.jwk.json"
_PUBLIEK = "jwks.json"


class TokenFout(Exception):
    """The token is missing or not acceptable. `reden` is safe to return and to log.

    `str()` is the reason; the token itself is never part of it.
    """

    def __init__(self, reden: str, *, fout: str = "invalid_token") -> None:
        super().__init__(reden)
        self.reden = reden
        self.fout = fout  # RFC 6750 error code: invalid_request or invalid_token

    @property
    def www_authenticate(self) -> str:
        """The value of the WWW-Authenticate header of the 401 (RFC 6750, section 3)."""
        beschrijving = self.reden.replace("\\", "").replace('"', "'")
        return f'Bearer realm="jeugdstroom", error="{self.fout}", error_description="{beschrijving}"'


class JwksFout(TokenFout):
    """The key set could not be read: the service's configuration or the network, not the
    caller's token. The HTTP layer may answer 503 rather than 401."""


@dataclass(frozen=True)
class TokenInstellingen:
    """Where the keys are and what a token must say: JEUGDSTROOM_AUTH_JWKS, _ISSUER, _AUDIENCE."""

    jwks: str  # a file path or an https URL
    issuer: str
    audience: str
    algoritmen: tuple[str, ...] = ALGORITMEN
    leeway: int = LEEWAY_SECONDEN
    # Entra ID puts app roles in `roles` and cannot rename that claim (deploy/toegang.md)
    rollen_claim: str = ROLLEN_CLAIM

    def __post_init__(self) -> None:
        onveilig = [a for a in self.algoritmen if a not in ALGORITMEN]
        if onveilig:
            raise ValueError(f"algorithms {onveilig} are not allowed: only asymmetric ones "
                             f"({', '.join(ALGORITMEN)})")
        if not self.algoritmen:
            raise ValueError("allow at least one algorithm")
        if not self.issuer or not self.audience:
            raise ValueError("set both the issuer and the audience that tokens must carry")
        if not 0 <= self.leeway <= 300:
            raise ValueError("leeway is a few seconds to a few minutes (0..300)")
        _soort_bron(self.jwks)


@dataclass(frozen=True)
class Aanroeper:
    """Who is asking: the token's `sub` and its roles (and what was ignored, for the log)."""

    sub: str
    rollen: tuple[Rol, ...]
    genegeerde_rollen: tuple[GenegeerdeRol, ...] = ()

    @property
    def rol_teksten(self) -> list[str]:
        return [str(rol) for rol in self.rollen]


def _soort_bron(locatie: str) -> str:
    deel = urlsplit(locatie)
    if deel.scheme == "https":
        return "url"
    if deel.scheme in ("", "file") and not deel.netloc:
        return "bestand"
    raise ValueError(f"JEUGDSTROOM_AUTH_JWKS must be a file path or an https URL, not a "
                     f"{deel.scheme}: URL (keys fetched without TLS could be replaced)")


def _lees_url(url: str, timeout: float = 10.0) -> bytes:
    verzoek = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310 (https only: _soort_bron)
    with urllib.request.urlopen(verzoek, timeout=timeout) as antwoord:  # noqa: S310
        return antwoord.read(1_000_000)


MAX_SLEUTELS = 64  # keys kept of a key set (an identity provider publishes a handful)


@dataclass
class JwksBron:
    """The cached key set of one file or URL; thread-safe (FastAPI runs sync code in threads)."""

    locatie: str
    min_interval: float = 30.0  # seconds between two reads for an unknown kid
    max_leeftijd: float = 3600.0  # an URL's keys are read again after this
    klok: Callable[[], float] = time.monotonic
    ophalen: Callable[[str], bytes] | None = None  # tests: replaces the https read
    _sleutels: KeySet | None = field(default=None, init=False, repr=False)
    _gelezen_op: float | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    lezingen: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self._soort = _soort_bron(self.locatie)

    def sleutel(self, kid: str | None) -> Key:
        """The verification key for a token's `kid`; reads the set again (rate-limited) when
        the kid is unknown. Without a kid, only a set of exactly one key is usable."""
        with self._lock:
            if self._sleutels is None or self._verouderd():
                self._lees()
            gevonden = self._zoek(kid)
            if gevonden is None and self._mag_opnieuw():
                self._lees()
                gevonden = self._zoek(kid)
        if gevonden is None:
            if kid is None:
                raise TokenFout("the token has no kid and the key set holds more than one key")
            raise TokenFout("the token was signed by a key that is not in the key set")
        return gevonden

    def _verouderd(self) -> bool:
        return (self._soort == "url" and self._gelezen_op is not None
                and self.klok() - self._gelezen_op > self.max_leeftijd)

    def _mag_opnieuw(self) -> bool:
        return self._gelezen_op is None or self.klok() - self._gelezen_op >= self.min_interval

    def _zoek(self, kid: str | None) -> Key | None:
        assert self._sleutels is not None
        sleutels = [k for k in self._sleutels.keys if k.get("use") in (None, "sig")]
        if kid is None:
            return sleutels[0] if len(sleutels) == 1 else None
        return next((k for k in sleutels if k.kid == kid), None)

    def _lees(self) -> None:
        self.lezingen += 1
        self._gelezen_op = self.klok()
        try:
            if self._soort == "url":
                data = (self.ophalen or _lees_url)(self.locatie)
            else:
                pad = urlsplit(self.locatie).path if self.locatie.startswith("file:") else self.locatie
                data = Path(pad).read_bytes()
            inhoud = json.loads(data)
            sleutels = [k for k in inhoud.get("keys", []) if k.get("kty") in ("RSA", "EC", "OKP")
                        ][:MAX_SLEUTELS]
            self._sleutels = KeySet.import_key_set({"keys": sleutels}) if sleutels else KeySet([])
        except (OSError, ValueError, AttributeError, JoseError) as fout:
            if self._sleutels is None:
                raise JwksFout(f"the key set at JEUGDSTROOM_AUTH_JWKS could not be read "
                               f"({type(fout).__name__}); check the path or URL",
                               fout="invalid_token") from None
            # keep the keys we had: an unreachable identity provider must not log everyone out


class TokenVerificateur:
    """Verifies bearer tokens against one identity provider's settings."""

    def __init__(self, instellingen: TokenInstellingen, *, bron: JwksBron | None = None,
                 bekende_regios: Collection[str] | None = None,
                 nu: Callable[[], float] = time.time) -> None:
        self.instellingen = instellingen
        self.bron = bron or JwksBron(instellingen.jwks)
        self.bekende_regios = bekende_regios
        self._nu = nu

    def uit_header(self, authorization: str | None) -> Aanroeper:
        """The caller of an `Authorization: Bearer <token>` header."""
        if not authorization:
            raise TokenFout("send a bearer token: Authorization: Bearer <token>",
                            fout="invalid_request")
        schema, _, token = authorization.strip().partition(" ")
        if schema.lower() != "bearer" or not token.strip():
            raise TokenFout("the Authorization header must be 'Bearer <token>'",
                            fout="invalid_request")
        return self.verifieer(token.strip())

    def verifieer(self, token: str) -> Aanroeper:
        if len(token) > MAX_TOKEN_LENGTE:
            raise TokenFout("the token is too long")
        try:
            kop = jws.extract_compact(token.encode("ascii")).headers()
        except (JoseError, ValueError, UnicodeError):
            raise TokenFout("the token is not a signed JWT (header.payload.signature)") from None
        algoritme = kop.get("alg")
        if algoritme not in self.instellingen.algoritmen:
            raise TokenFout(
                f"tokens must be signed with one of {', '.join(self.instellingen.algoritmen)}")
        kid = kop.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise TokenFout("the token's kid is not a string")
        sleutel = self.bron.sleutel(kid)
        try:
            ontsleuteld = jwt.decode(token, sleutel, algorithms=list(self.instellingen.algoritmen))
        except BadSignatureError:
            raise TokenFout("the token's signature is not valid") from None
        except JoseError as fout:
            raise TokenFout(f"the token could not be verified ({fout.error or 'invalid'})") from None
        except (ValueError, TypeError):
            raise TokenFout("the token does not fit the key it names") from None
        claims = ontsleuteld.claims
        self._controleer_claims(claims)
        rollen, genegeerd = lees_rollen(claims.get(self.instellingen.rollen_claim),
                                        self.bekende_regios)
        return Aanroeper(sub=claims["sub"], rollen=rollen, genegeerde_rollen=genegeerd)

    def _controleer_claims(self, claims: dict) -> None:
        register = jwt.JWTClaimsRegistry(
            now=lambda: int(self._nu()),
            leeway=self.instellingen.leeway,
            iss={"essential": True, "value": self.instellingen.issuer},
            aud={"essential": True, "value": self.instellingen.audience},
            exp={"essential": True},
            sub={"essential": True},
        )
        try:
            register.validate(claims)
        except ExpiredTokenError:
            raise TokenFout("the token has expired") from None
        except MissingClaimError as fout:
            raise TokenFout(f"the token lacks the claim {fout.claim}") from None
        except InvalidClaimError as fout:
            waarom = {"iss": "was issued by another issuer than JEUGDSTROOM_AUTH_ISSUER",
                      "aud": "is meant for another audience than JEUGDSTROOM_AUTH_AUDIENCE",
                      "nbf": "is not valid yet (nbf)", "iat": "claims to be issued in the future",
                      }.get(fout.claim, f"has an invalid {fout.claim} claim")
            raise TokenFout(f"the token {waarom}") from None
        except ClaimError as fout:
            raise TokenFout(f"the token has an invalid {fout.claim} claim") from None
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise TokenFout("the token's sub must be a non-empty string")


# -- the embedded default: a local signing key --------------------------------------------------


def lokale_instellingen(state_dir: Path) -> TokenInstellingen:
    """The settings that verify the local key's tokens (creates the key if needed)."""
    return TokenInstellingen(jwks=str(lokale_sleutel(state_dir)), issuer=LOKAAL_ISSUER,
                             audience=LOKAAL_AUDIENCE, algoritmen=(LOKAAL_ALGORITME,))


def lokale_sleutel(state_dir: Path) -> Path:
    """Create, once, an ES256 signing key (mode 0600) and its public key set in the state dir.

    Returns the path of the public JWKS file (for TokenInstellingen.jwks). Safe when two
    processes start at once: the key file is created exclusively, the loser reads it.
    """
    map_ = Path(state_dir) / _SLEUTEL_MAP
    map_.mkdir(parents=True, exist_ok=True)
    prive, publiek = map_ / _PRIVE, map_ / _PUBLIEK
    sleutel = _lees_of_maak_prive(prive)
    jwks = json.dumps({"keys": [sleutel.as_dict(private=False)]}, indent=2) + "\n"
    if not publiek.exists() or publiek.read_text() != jwks:
        tijdelijk = publiek.with_name(f".{publiek.name}.{os.getpid()}")
        tijdelijk.write_text(jwks)
        tijdelijk.replace(publiek)
    return publiek


def _lees_of_maak_prive(pad: Path) -> ECKey:
    if not pad.exists():
        sleutel = ECKey.generate_key("P-256", parameters={"alg": LOKAAL_ALGORITME, "use": "sig"},
                                     auto_kid=True)
        try:
            fd = os.open(pad, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it just now: use theirs
        else:
            with os.fdopen(fd, "w") as uit:
                json.dump(sleutel.as_dict(private=True), uit)
            return sleutel
    modus = stat.S_IMODE(pad.stat().st_mode)
    if modus & 0o077:
        raise PermissionError(f"{pad} is readable by others (mode {modus:o}); "
                              f"chmod 600 it, or delete it to make a new key")
    for _ in range(50):  # the other process may still be writing it
        try:
            return ECKey.import_key(json.loads(pad.read_text()))
        except ValueError:
            time.sleep(0.02)
    raise ValueError(f"{pad} is not a signing key; delete it to make a new one")


def maak_token(state_dir: Path, rollen: list[str], minuten: int = 60,
               sub: str = "lokaal") -> str:
    """A token signed with the local key, for `jeugdstroom token --role R [--minutes M]`.

    Every role must be valid (a typo here is the operator's, so it is refused, not ignored).
    """
    for rol in rollen:
        lees_rol(rol)  # raises OngeldigeRol with the forms that exist
    if not 1 <= minuten <= 24 * 60:
        raise ValueError("a local token is valid for 1 to 1440 minutes")
    lokale_sleutel(state_dir)
    sleutel = _lees_of_maak_prive(Path(state_dir) / _SLEUTEL_MAP / _PRIVE)
    nu = int(time.time())
    claims = {
        "iss": LOKAAL_ISSUER, "aud": LOKAAL_AUDIENCE, "sub": sub,
        "iat": nu, "nbf": nu, "exp": nu + minuten * 60, "jti": uuid.uuid4().hex,
        ROLLEN_CLAIM: list(rollen),
    }
    kop = {"alg": LOKAAL_ALGORITME, "typ": "JWT", "kid": sleutel.kid}
    return jwt.encode(kop, claims, sleutel, algorithms=[LOKAAL_ALGORITME])
