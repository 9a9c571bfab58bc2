"""Paths to the workplace's shared reference data (../shared), read, never copied."""

from __future__ import annotations

from pathlib import Path

import pytest

from events.gemeenten import GemeenteRegister
from events.ijw import XsdSchemas

SHARED = Path(__file__).resolve().parents[2] / "shared"
EXAMPLES = SHARED / "ijw" / "examples"
XSD_DIR = SHARED / "ijw" / "xsd"
CBS_FILES = sorted((SHARED / "reference").glob("cbs-gemeenten-*.csv"))
INGESTED_EXAMPLES = ["JW301.xml", "JW305.xml", "JW307.xml", "JW323.xml", "JW325.xml"]
# Every BSN and personal detail in the official examples: none may ever be stored.
EXAMPLE_SECRETS = ["999900006", "999900018", "Wit", "Galen", "Bakker", "Woustraat", "Kerklaan",
                   "Mauritsstraat", "0201234567", "abc@def.com", "2010-02-14", "Commentaar client"]


@pytest.fixture(scope="session")
def register() -> GemeenteRegister:
    return GemeenteRegister.from_csv(CBS_FILES)


@pytest.fixture(scope="session")
def schemas() -> XsdSchemas:
    return XsdSchemas(XSD_DIR)


def example(name: str) -> bytes:
    return (EXAMPLES / name).read_bytes()
