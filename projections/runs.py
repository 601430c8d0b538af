"""Runs of consecutive events that one projector applies together (set-based SQL).

In a batch applied without savepoints, consecutive events that a batcher `fits` are held
back and applied together when the run ends: before any other event of the batch runs, and
at the end of the batch. The batcher decides each event exactly as its per-event handler
would, in log order, from the rows it reads in the transaction plus the run's own earlier
events, so the tables, outcomes and changes are the same; only the round trips are fewer.
A failing run aborts the batch like a failing event does (it is then re-run guarded, per
event, by the ordinary handlers).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from projections.unit_of_work import EventTx
from schemas.envelope import EventEnvelope
from schemas.outcomes import Outcome


@dataclass(frozen=True)
class Batcher:
    fits: Callable[[EventEnvelope], bool]
    apply: Callable[[list[EventTx]], Awaitable[list[Outcome]]]


@dataclass
class PendingRun:
    batchers: Mapping[str, Batcher]
    txs: list[EventTx] = field(default_factory=list)

    def take(self, tx: EventTx) -> bool:
        """Hold `tx` back for the run; False when it must run on its own (after a flush)."""
        batcher = self.batchers.get(tx.event.type)
        if batcher is None or tx.event.idempotency_key or not batcher.fits(tx.event):
            return False
        if self.txs and self.txs[0].event.type != tx.event.type:
            return False
        self.txs.append(tx)
        return True

    async def flush(self) -> list[tuple[EventTx, Outcome]]:
        if not self.txs:
            return []
        txs, self.txs = self.txs, []
        outcomes = await self.batchers[txs[0].event.type].apply(txs)
        return list(zip(txs, outcomes, strict=True))
