"""Cyclic garbage collection for the processes that work through the stream and the event log."""

from __future__ import annotations

import gc

# Young objects collected every 50,000 allocations instead of 700: a batch's messages and
# events live across a few awaits, and at 700 they were promoted again and again, so that full
# collections kept rescanning them (measured: a quarter of ingest's CPU in the collector).
_DREMPELS = (50_000, 20, 20)


def na_opstart() -> None:
    """Keep what start-up built (modules, settings, the register, compiled XSDs) out of every
    later collection, and collect young objects less often (`_DREMPELS`).

    Call it once, when the process has been built and before its long loop."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*_DREMPELS)
