"""Scale-out by region: a partition is a set of regions with its own ingest and projector.

Each partition has its own stream (sourced by NATS from the iJw stream, filtered on the
subjects of its gemeenten), so its stream sequences are contiguous and ingest's exactly-once
rules (services/ingest/jetstream.py) hold unchanged per partition; and its own PostgreSQL
schema (event store, tracking, rejections, read tables), so no partition waits for the lock
another takes on its events table. Pure functions: the settings and bootstrap use them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from events.gemeenten import GemeenteRegister
from projections.regio import regio_id

_NAAM = re.compile(r"[a-z][a-z0-9_]{0,29}")


class PartitieFout(ValueError):
    """The partitions cannot work as configured; the message says what to change."""


def controleer_indeling(indeling: Mapping[str, list[str]], partitie: str | None) -> None:
    """The partition names are usable as stream and schema names, no region is in two
    partitions, and this process's partition is one of them."""
    for naam, regios in indeling.items():
        if not _NAAM.fullmatch(naam):
            raise PartitieFout(
                f"JEUGDSTROOM_PARTITIONS: partition name {naam!r} must be lower-case letters, "
                "digits and _ (at most 30, starting with a letter): it names a NATS stream and "
                "a PostgreSQL schema")
        if not regios:
            raise PartitieFout(f"JEUGDSTROOM_PARTITIONS: partition {naam!r} has no regions")
    eerder: dict[str, str] = {}
    for naam, regios in indeling.items():
        for regio in regios:
            if regio in eerder and eerder[regio] != naam:
                raise PartitieFout(
                    f"JEUGDSTROOM_PARTITIONS: region {regio!r} is in partition {eerder[regio]!r} "
                    f"and in {naam!r}; a region belongs to one partition (its figures are "
                    "counted in one place)")
            eerder[regio] = naam
    if partitie is not None and partitie not in indeling:
        bekend = ", ".join(sorted(indeling)) or "none: JEUGDSTROOM_PARTITIONS is not set"
        raise PartitieFout(
            f"JEUGDSTROOM_PARTITION={partitie} is not a partition of JEUGDSTROOM_PARTITIONS "
            f"(known: {bekend})")


def onbekende_regios(indeling: Mapping[str, list[str]], bekend: Iterable[str]) -> None:
    """Every region of a partition is a configured region (shipped or JEUGDSTROOM_REGION_CONFIGS)."""
    bekende = set(bekend)
    for naam, regios in indeling.items():
        vreemd = sorted(set(regios) - bekende)
        if vreemd:
            raise PartitieFout(
                f"JEUGDSTROOM_PARTITIONS: partition {naam!r} names unknown regions {vreemd}; "
                f"known: {', '.join(sorted(bekende))} (add a region file with "
                "JEUGDSTROOM_REGION_CONFIGS, e.g. from `jeugdstroom regions from-cbs`)")


def ingest_stream(stream: str, partitie: str | None) -> str:
    """The stream a partition's ingest reads: `IJW_ZUID` for partition `zuid` of `IJW`."""
    return stream if partitie is None else f"{stream}_{partitie.upper()}"


def schema(partitie: str | None) -> str | None:
    """The PostgreSQL schema of a partition (None: the default schema, public)."""
    return None if partitie is None else f"partitie_{partitie}"


def gemeentecodes(regio_gemeenten: Mapping[str, Iterable[str]], regios: Iterable[str],
                  register: GemeenteRegister) -> list[str]:
    """The gemeentecodes whose traffic a partition ingests: the gemeenten of its region
    files, and every code that any CBS list (all years) places in a jeugdzorgregio of the
    same id, so that the old code of a merged gemeente still reaches its region."""
    ids = set(regios)
    codes = {code for regio in ids for code in regio_gemeenten[regio]}
    for lijst in register.lijsten:
        codes.update(g.code for g in lijst.gemeenten.values() if regio_id(g.jeugdzorgregio) in ids)
    return sorted(codes)


def subjects(codes: Iterable[str]) -> list[str]:
    """The iJw subjects of these gemeenten (`ijw.<gemeentecode>.<bericht>`)."""
    return [f"ijw.{code}.>" for code in sorted(codes)]


def buiten_partities(per_subject: Mapping[str, int], codes: Iterable[str]) -> dict[str, int]:
    """The messages per subject whose gemeente no partition ingests (a code of no configured
    region, or no gemeente at all). Without partitions ingest rejects them with a reason; with
    partitions no stream receives them, so `status` counts them instead."""
    bekend = set(codes)
    return {subject: aantal for subject, aantal in sorted(per_subject.items())
            if subject.split(".")[1:2] != [] and subject.split(".")[1] not in bekend}


def partitie_van(indeling: Mapping[str, list[str]], regio: str) -> str | None:
    """The partition that counts a region (None: no partition names it)."""
    return next((naam for naam, regios in indeling.items() if regio in regios), None)


def elders_geteld(indeling: Mapping[str, list[str]], partitie: str | None, regio: str) -> str | None:
    """Why a process of `partitie` (None: the default schema) cannot answer for a region that
    another partition counts, naming the partition to ask; None when it can."""
    hier = partitie_van(indeling, regio)
    if hier == partitie or (hier is None and partitie is None):
        return None
    if hier is None:
        return (f"region {regio} is in no partition of JEUGDSTROOM_PARTITIONS: partition "
                f"{partitie} does not count it")
    return (f"region {regio} is counted in partition {hier}, not here: ask with "
            f"JEUGDSTROOM_PARTITION={hier}")


def verdeel(gewichten: Mapping[str, int], aantal: int) -> dict[str, list[str]]:
    """Regions over `aantal` partitions `p1`..`pN`: the heaviest region first, each onto the
    lightest partition so far (ties: the lower number; deterministic). A starting point: the
    weight is what the operator knows of each region's traffic."""
    if not 1 <= aantal <= len(gewichten):
        raise PartitieFout(f"{aantal} partitions for {len(gewichten)} regions: choose 1 to "
                           f"{len(gewichten)} (a region is never split)")
    delen: list[tuple[int, list[str]]] = [(0, []) for _ in range(aantal)]
    for regio in sorted(gewichten, key=lambda r: (-gewichten[r], r)):
        i = min(range(aantal), key=lambda j: (delen[j][0], j))
        delen[i] = (delen[i][0] + gewichten[regio], [*delen[i][1], regio])
    return {f"p{i + 1}": sorted(regios) for i, (_, regios) in enumerate(delen)}
