"""What every figure route is asked and answers first: the query parameters of a question
(region, window, knowledge date, gemeente) and the answer's header (`flow.vraag_kop`), one
definition for the counts, money and care routes."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Query
from pydantic import BaseModel, BeforeValidator, Field

from projections.regio import Regio
from projections.vragen import kies_gemeente, kies_regio, redelijk, venster


def _leeg_is_geen(waarde: object) -> object:
    return None if waarde == "" else waarde


Region = Annotated[str, Query(description="region id, see /api/regions")]
Peildatum = Annotated[date, Query(description="last day of the window")]
Van = Annotated[date | None, Query(alias="from", description="first day (default 1 January)")]
KnownAt = Annotated[date | None, BeforeValidator(_leeg_is_geen),
                    Query(description="knowledge date K (empty: now)")]
Gemeente = Annotated[str | None, Query(
    max_length=80, description="a gemeente of the region: CBS code (0935) or name (Maastricht), "
    "any case; empty: the whole region")]


class VraagKop(BaseModel):
    """The question an answer answers, as `flow.vraag_kop` writes it."""

    model_config = {"populate_by_name": True}

    region: str
    from_: date = Field(alias="from")
    peildatum: date
    known_at: date | None = Field(description="null: now")
    gemeente: str | None = Field(description="null: all gemeenten of the region")


def lees_vraag(regios: dict[str, Regio], region: str, peildatum: date, van: date | None,
               known_at: date | None, gemeente: str | None
               ) -> tuple[Regio, date, date, date | None, str | None]:
    """The region, window [start, peildatum], K (None: now) and gemeente code of a question;
    `OngeldigeVraag` says what to ask instead."""
    regio = kies_regio(regios, region)
    start, pd = venster(regio, peildatum, van, None)
    return regio, start, pd, redelijk(known_at, "known_at"), kies_gemeente(regio, gemeente)
