"""Access control of the HTTP API and the dashboard: the bearer token on every route, a decision
of `services/toegang/rollen.py` per question, and the audit log.

How it is wired (services/http/api.py):

- `controleer`, an app-level dependency, verifies the token of every route except the public
  ones (`OPENBAAR`: the health check, the login link and the OpenAPI docs, which describe the
  routes but hold no data). No token or a bad one: 401 with `WWW-Authenticate`; a subscriber
  (it reads NATS only): 403.
- each route asks `beslis(request, regio, Vraag.X, gemeente)`: 403 with the role needed, or
  the decision (full or suppressed). A router of its own (money) can use `vereis_volledig`
  as its dependency instead.
- `ToegangMiddleware` writes the audit row once the answer's status is known, and refuses any
  successful answer of a route that made no decision: a new route is closed until someone
  says who may read it, instead of open to every valid token.

The token comes from `Authorization: Bearer ...` or, for a browser, from the HttpOnly cookie
that `/login?token=...` sets before redirecting to the dashboard (SameSite=Lax: the API only
reads, and Lax keeps the cookie off cross-site subrequests). The token is never logged,
echoed or stored: the audit row keeps the query string without it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.middleware.base import BaseHTTPMiddleware

from projections.regio import Regio
from services.toegang.audit import AuditInGeheugen, AuditLog, AuditRegel
from services.toegang.rollen import (
    Besluit,
    RegioScope,
    Rol,
    Soort,
    Vraag,
    besluit,
    leest_http,
    zichtbare_regios,
)
from services.toegang.tokens import Aanroeper, JwksFout, TokenFout, TokenVerificateur

log = logging.getLogger("jeugdstroom.toegang")

COOKIE = "jeugdstroom_token"
LOGIN = "/login"
GEZONDHEID = "/healthz"
OPENBAAR = frozenset({GEZONDHEID, LOGIN, "/docs", "/docs/oauth2-redirect", "/openapi.json",
                      "/redoc"})
_GEHEIM = frozenset({"token", "access_token", "id_token"})  # never into the audit log

# registers the Bearer scheme in the OpenAPI document (the docs' Authorize button); the
# header is read again below, beside the cookie
_bearer = HTTPBearer(auto_error=False, description="a JWT of the region's identity provider "
                     "(local: `jeugdstroom token --role regio:zuid-limburg`)")

_STAAT_AANROEPER = "toegang_aanroeper"
_STAAT_BESLOTEN = "toegang_besloten"
_STAAT_AUDIT = "toegang_audit"


@dataclass(frozen=True)
class _AuditIntentie:
    sub: str | None
    rol: str | None
    reden: str


class Toegang:
    """What the API needs to decide access: the verifier (None: no checks) and the audit log."""

    def __init__(self, verificateur: TokenVerificateur | None, regios: dict[str, Regio],
                 audit: AuditLog) -> None:
        self.verificateur = verificateur
        self.regios = regios
        self.audit = audit

    @classmethod
    def zonder_controle(cls, regios: dict[str, Regio], audit: AuditLog | None = None) -> Toegang:
        """No tokens: every caller reads every region (`serve --insecure-no-auth`, and tests
        that are about the figures, not about access). Still audited, as `sub` 'insecure'."""
        return cls(None, regios, audit or AuditInGeheugen())

    def aanroeper(self, authorization: str | None, cookie: str | None) -> Aanroeper:
        if self.verificateur is None:
            return Aanroeper("insecure", tuple(Rol(Soort.REGIO, r) for r in sorted(self.regios)))
        if authorization:
            return self.verificateur.uit_header(authorization)
        if cookie:
            return self.verificateur.verifieer(cookie)
        return self.verificateur.uit_header(None)  # the 401 that says what to send


def _toegang(request: Request) -> Toegang:
    return request.app.state.toegang


def _staat(request: Request) -> dict[str, Any]:
    return request.scope.setdefault("state", {})


def _nee(request: Request, status: int, reden: str, headers: dict[str, str] | None = None,
         aanroeper: Aanroeper | None = None) -> HTTPException:
    rol = ",".join(aanroeper.rol_teksten) if aanroeper else None
    _staat(request)[_STAAT_AUDIT] = _AuditIntentie(aanroeper.sub if aanroeper else None, rol,
                                                   f"denied: {reden}")
    return HTTPException(status, detail=reden, headers=headers)


def _verifieer(request: Request, toegang: Toegang) -> Aanroeper:
    try:
        return toegang.aanroeper(request.headers.get("authorization"), request.cookies.get(COOKIE))
    except JwksFout as fout:
        log.error("access: %s", fout.reden)
        raise _nee(request, 503, "the service cannot verify tokens right now (its key set "
                   "could not be read); try again later or tell the operator") from None
    except TokenFout as fout:
        raise _nee(request, 401, fout.reden, {"WWW-Authenticate": fout.www_authenticate}) from None


def controleer(request: Request,
               _: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> None:
    """The app-level dependency: a verified caller on every route but the public ones."""
    if request.url.path in OPENBAAR:
        return
    toegang = _toegang(request)
    aanroeper = _verifieer(request, toegang)
    for genegeerd in aanroeper.genegeerde_rollen:
        log.info("access: ignored a role of %s: %s", aanroeper.sub, genegeerd.reden)
    if not leest_http(aanroeper.rollen):
        nodig = ("subscriber reads only the aggregate updates on NATS, nothing over HTTP"
                 if aanroeper.rollen else
                 "the token carries no jeugdstroom role: ask for gemeente:<code>, "
                 "regio:<region> or auditor:<region>")
        raise _nee(request, 403, nodig, aanroeper=aanroeper)
    _staat(request)[_STAAT_AANROEPER] = aanroeper


def aanroeper(request: Request) -> Aanroeper:
    gevonden = _staat(request).get(_STAAT_AANROEPER)
    if gevonden is None:  # a public route asked: a programming error, not the caller's
        raise RuntimeError("no verified caller on this route: is it in OPENBAAR?")
    return gevonden


def markeer(request: Request) -> None:
    """This route decided itself who may see what (e.g. it filters a list)."""
    _staat(request)[_STAAT_BESLOTEN] = True


def beslis(request: Request, regio: Regio, vraag: Vraag, gemeente: str | None = None,
           *, auditen: bool = False) -> Besluit:
    """The decision for this question of the caller: raises the 403, notes the audit row."""
    wie = aanroeper(request)
    uitkomst = besluit(wie.rollen, RegioScope.van(regio), vraag, gemeente)
    markeer(request)
    if not uitkomst.toegestaan:
        raise _nee(request, 403, uitkomst.reden, aanroeper=wie)
    if uitkomst.auditen or uitkomst.onderdrukt or auditen:
        waarom = f"{uitkomst.vraag.value}{' (suppressed)' if uitkomst.onderdrukt else ''}"
        _staat(request)[_STAAT_AUDIT] = _AuditIntentie(wie.sub, str(uitkomst.rol), waarom)
    return uitkomst


def regio_figuur(request: Request, regio: Regio, gemeente: str | None) -> Besluit:
    """Figures of the region (gemeente None) or of one gemeente."""
    if gemeente is None:
        return beslis(request, regio, Vraag.REGIO_CIJFERS)
    return beslis(request, regio, Vraag.GEMEENTE_CIJFERS, gemeente)


def gemeente_besluit(request: Request, regio: Regio, gemeente: str) -> Besluit:
    """One row of a side-by-side table, without its own audit row (the table's counts)."""
    return besluit(aanroeper(request).rollen, RegioScope.van(regio), Vraag.GEMEENTE_CIJFERS,
                   gemeente)


def zichtbaar(request: Request, regios: dict[str, Regio]) -> list[str]:
    """The ids of the regions the caller reads anything of."""
    markeer(request)
    return zichtbare_regios(aanroeper(request).rollen,
                            [RegioScope.van(r) for r in regios.values()])


def vereis_volledig(request: Request) -> None:
    """A router-level dependency for routes whose figures have no suppressed form (money):
    the query's `region` (and `gemeente`) must be readable in full. Unknown regions are left
    to the route (404)."""
    toegang = _toegang(request)
    regio = toegang.regios.get(request.query_params.get("region", ""))
    if regio is None:
        markeer(request)
        return
    gemeente = _gemeente_code(regio, request.query_params.get("gemeente"))
    if regio_figuur(request, regio, gemeente).onderdrukt:
        wat = f"gemeente {gemeente}" if gemeente else f"region {regio.id}"
        nodig = f"gemeente:{gemeente} or " if gemeente else ""
        raise _nee(request, 403, f"these figures of {wat} have no suppressed form; they need "
                   f"role {nodig}regio:{regio.id} or auditor:{regio.id}",
                   aanroeper=aanroeper(request))


def dashboard_gemeente(request: Request, regio: Regio, gevraagd: str | None) -> str | None:
    """The gemeente the dashboard page is about: the one asked for (None when it is not one of
    the region's: then the question is the whole region's), or, when nothing is asked and the
    caller reads the region only as its gemeente(s), its own."""
    if gevraagd and gevraagd.strip():
        return _gemeente_code(regio, gevraagd)
    rollen = aanroeper(request).rollen
    if besluit(rollen, RegioScope.van(regio), Vraag.DETAIL).toegestaan:
        return None
    return next((rol.waarde for rol in rollen
                 if rol.soort is Soort.GEMEENTE and rol.waarde in regio.gemeenten), None)


def _gemeente_code(regio: Regio, gevraagd: str | None) -> str | None:
    """The code of a gemeente asked by code or name, as the routes read it; anything this does
    not recognise is decided as a question about the whole region (the stricter one)."""
    tekst = (gevraagd or "").strip()
    if tekst.isdigit() and tekst.zfill(4) in regio.gemeenten:
        return tekst.zfill(4)
    return next((code for code, naam in regio.gemeenten.items()
                 if naam.casefold() == tekst.casefold()), None)


# -- suppression: small cells of a benchmark read, as in the publication CSV ---------------------


def onderdruk(waarde: int | None, min_cel: int) -> int | str | None:
    """1..min_cel-1 become the string '<min_cel'; 0 stays 0, None (n.v.t.) stays None."""
    if waarde is not None and 0 < waarde < min_cel:
        return f"<{min_cel}"
    return waarde


def onderdrukte_telling(telling: dict[str, Any], min_cel: int) -> dict[str, Any]:
    """`Telling.als_dict()` with every count suppressed (the segments' and the totals)."""
    uit = dict(telling)
    uit["segments"] = [{k: onderdruk(v, min_cel) if isinstance(v, int) and not isinstance(v, bool)
                        else v for k, v in s.items()} for s in telling["segments"]]
    for veld in ("unmapped_toewijzingen", "totaal_unieke_jeugdigen"):
        uit[veld] = onderdruk(telling[veld], min_cel)
    return uit


# -- the login link of the dashboard, the health check and the middleware ----------------------


def login(request: Request) -> Response:
    """`/login?token=T&regio=...`: verify T, keep it in an HttpOnly cookie, show the dashboard
    with the other parameters. The token leaves the address bar at once."""
    toegang = _toegang(request)
    token = request.query_params.get("token", "")
    if toegang.verificateur is not None:
        try:
            if not token:
                toegang.verificateur.uit_header(None)  # the 401 that says what to send
            toegang.verificateur.verifieer(token)
        except JwksFout:
            raise _nee(request, 503, "the service cannot verify tokens right now") from None
        except TokenFout as fout:
            raise _nee(request, 401, fout.reden,
                       {"WWW-Authenticate": fout.www_authenticate}) from None
    rest = [(k, v) for k, v in request.query_params.multi_items() if k not in _GEHEIM]
    antwoord = RedirectResponse("/" + (f"?{urlencode(rest)}" if rest else ""), status_code=303)
    if token:
        antwoord.set_cookie(COOKIE, token, httponly=True, samesite="lax", path="/",
                            secure=request.url.scheme == "https")
    markeer(request)
    return antwoord


def _parameters(request: Request) -> str:
    return urlencode([(k, v) for k, v in request.query_params.multi_items() if k not in _GEHEIM])


class ToegangMiddleware(BaseHTTPMiddleware):
    """Audits detail reads and denials with their final status; closes undecided routes."""

    async def dispatch(self, request: Request,
                       call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        antwoord = await call_next(request)
        staat = _staat(request)
        if (antwoord.status_code < 400 and request.url.path not in OPENBAAR
                and not staat.get(_STAAT_BESLOTEN)):
            log.error("access: route %s answered without an access decision; refused",
                      request.url.path)
            reden = ("this route has no access rule yet; it stays closed until it has one "
                     "(services/http/toegang.py)")
            wie = staat.get(_STAAT_AANROEPER)
            staat[_STAAT_AUDIT] = _AuditIntentie(wie.sub if wie else None,
                                                 ",".join(wie.rol_teksten) if wie else None,
                                                 f"denied: {reden}")
            antwoord = JSONResponse({"detail": reden}, status_code=403)
        intentie: _AuditIntentie | None = staat.get(_STAAT_AUDIT)
        if intentie is not None:
            regel = AuditRegel(datetime.now(UTC), intentie.sub, intentie.rol, request.url.path,
                               _parameters(request), antwoord.status_code, intentie.reden)
            try:
                await run_in_threadpool(_toegang(request).audit.voeg_toe, regel)
            except Exception:
                # an answer whose read cannot be logged is not given
                log.exception("access: the audit row could not be written; answered 503")
                return JSONResponse({"detail": "the audit log cannot be written; try again later"},
                                    status_code=503)
        return antwoord


def gezondheid() -> dict[str, str]:
    return {"status": "ok"}
