"""The library's JSON transcoder with orjson underneath: the same stored bytes, less CPU.

Ingest encodes every new event and a projection rebuild decodes every stored one; with the
library's `json`-based `JSONTranscoder` that was a fifth of a rebuild's CPU (py-spy). orjson
writes what `JSONTranscoder` writes (compact, UTF-8 unescaped, keys in order, the registered
transcodings' `{"_type_", "_data_"}` objects), so either transcoder reads what the other
wrote (tests/unit/test_transcoder.py, both ways over real events).
"""

from __future__ import annotations

from typing import Any

import orjson
from eventsourcing.persistence import JSONTranscoder

# orjson writes dataclasses, dates and datetimes itself unless they are passed to `default`,
# where the registered transcodings write them as the library does
_OPTIES = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME


class OrjsonTranscoder(JSONTranscoder):
    """`JSONTranscoder` with orjson for the text, and its registered transcodings unchanged.

    orjson has no pass-through for UUIDs and enums: it would store them itself (a UUID as a
    plain string, not as the library's `uuid_hex`), so no event attribute may hold one; the
    test of this module checks the events' annotations for that."""

    def encode(self, obj: Any) -> bytes:
        return orjson.dumps(obj, default=self._encode_obj, option=_OPTIES)

    def decode(self, data: bytes) -> Any:
        return self._herstel(orjson.loads(data))

    def _herstel(self, waarde: Any) -> Any:
        """What json's `object_hook` does while parsing, done after it: every `_type_` object,
        the innermost first, becomes its value again. In place, as orjson's result is ours:
        lists and plain objects are not copied."""
        if type(waarde) is dict:
            for sleutel, deel in waarde.items():
                if type(deel) is dict or type(deel) is list:
                    waarde[sleutel] = self._herstel(deel)
            return self._decode_obj(waarde) if len(waarde) == 2 else waarde
        for i, deel in enumerate(waarde):
            if type(deel) is dict or type(deel) is list:
                waarde[i] = self._herstel(deel)
        return waarde
