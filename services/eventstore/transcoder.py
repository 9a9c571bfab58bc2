"""The library's JSON transcoder, writing with orjson: the same stored bytes, less CPU.

Ingest encodes every new event. orjson writes what the library's `json`-based
`JSONTranscoder` writes (compact, UTF-8 unescaped, keys in order, the registered
transcodings' `{"_type_", "_data_"}` objects) in less than half the time, so either
transcoder reads what the other wrote (tests/unit/test_transcoder.py, both ways over real
events). Reading stays with the library's json: orjson has no object hook, and reviving the
`_type_` objects after parsing, though faster in a loop of its own, made the decode of a
projection rebuild slower (git log of this file has the figures).
"""

from __future__ import annotations

from typing import Any

import orjson
from eventsourcing.persistence import JSONTranscoder

# orjson writes dataclasses, dates and datetimes itself unless they are passed to `default`,
# where the registered transcodings write them as the library does
_OPTIES = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME


class OrjsonTranscoder(JSONTranscoder):
    """`JSONTranscoder` with orjson for writing, and its registered transcodings unchanged.

    orjson has no pass-through for UUIDs and enums: it would store them itself (a UUID as a
    plain string, not as the library's `uuid_hex`), so no event attribute may hold one; the
    test of this module checks the events' annotations for that."""

    def encode(self, obj: Any) -> bytes:
        return orjson.dumps(obj, default=self._encode_obj, option=_OPTIES)
