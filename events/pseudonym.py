"""The keyed pseudonym that replaces a BSN at ingest (DOMAIN.md, Privacy)."""

from __future__ import annotations

import hashlib
import hmac

from events.ijw import Bsn


class Pseudonimiseerder:
    """HMAC-SHA256 of the BSN under the region's secret key.

    The same child gets the same pseudonym in every message (so flows can be followed),
    and without the key the pseudonym cannot be turned back into a BSN by trying all
    ten million valid BSNs.
    """

    def __init__(self, sleutel: bytes) -> None:
        if len(sleutel) < 16:
            raise ValueError("the pseudonym key must be at least 16 bytes long")
        self._sleutel = sleutel

    def __call__(self, bsn: Bsn) -> str:
        return hmac.new(self._sleutel, bsn.waarde.encode("ascii"), hashlib.sha256).hexdigest()
