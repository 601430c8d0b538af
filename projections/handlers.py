"""Every projector handler by event type."""

from __future__ import annotations

from projections.claims_projector import HANDLERS as CLAIM_HANDLERS
from projections.extraction_projector import HANDLERS as EXTRACTION_HANDLERS
from projections.forget_projector import HANDLERS as FORGET_HANDLERS
from projections.memory_batch import BATCHERS as MEMORY_BATCHERS
from projections.memory_projector import HANDLERS as MEMORY_HANDLERS
from projections.recall_projector import HANDLERS as RECALL_HANDLERS
from projections.runs import Batcher
from projections.unit_of_work import Handler

HANDLERS: dict[str, Handler] = {**MEMORY_HANDLERS, **RECALL_HANDLERS, **CLAIM_HANDLERS,
                               **EXTRACTION_HANDLERS, **FORGET_HANDLERS}

BATCHERS: dict[str, Batcher] = {**MEMORY_BATCHERS}
"""Event types whose consecutive events a projector may apply as one run (`projections.runs`)."""
