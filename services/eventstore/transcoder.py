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
        # in a list, so that a `_type_` object at the top is revived like any other
        return self._herstel([orjson.loads(data)])[0]

    def _herstel(self, waarde: Any) -> Any:
        """What json's `object_hook` does while parsing, done after it: every `_type_` object,
        the innermost first, becomes its value again. In place, as orjson's result is ours:
        plain objects and lists are not copied, and a date's object costs no call of its own."""
        namen = self.names
        for plek, deel in waarde.items() if type(waarde) is dict else enumerate(waarde):
            if type(deel) is dict:
                if len(deel) == 2 and "_type_" in deel and "_data_" in deel:
                    if type(deel["_data_"]) is dict or type(deel["_data_"]) is list:
                        self._herstel(deel)  # its `_data_` first, itself perhaps a `_type_` object
                    transcoding = namen.get(deel["_type_"])
                    # an unknown name: the library's own error
                    waarde[plek] = (transcoding.decode(deel["_data_"]) if transcoding
                                    else self._decode_obj(deel))
                else:
                    self._herstel(deel)
            elif type(deel) is list:
                self._herstel(deel)
        return waarde
