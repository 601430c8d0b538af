"""AI wiring of a process (spec §3.1): provider, embedder, LLM client and extraction.

Built once by a composition root (API lifespan, worker start-up) with `build_ai(settings)`;
it logs the resolution warnings and the `ai mode: …` line, and
routes every provider call through the metrics hook. Close it with `await ai.aclose()`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from kernel.ai.embeddings import Embedder
from kernel.ai.extraction import ExtractionEngine
from kernel.ai.llm import LLMClient, OnCall
from kernel.ai.providers import (
    CEREBRAS_BASE_URL,
    AIConfig,
    ResolvedProvider,
    engine_name,
    resolve_provider,
)
from kernel.metrics import record_provider_call
from kernel.settings import Settings

log = logging.getLogger("core")

EMBEDDING_DIMENSIONS = 1536
"""`memories.embedding` is VECTOR(1536): a vector of another size is treated as none."""


class FixedDimensionEmbedder(Embedder):
    """An embedder whose vectors always fit the schema: another size counts as no embedding."""

    async def embed(self, text: str) -> list[float]:
        return self._accepted(await super().embed(text))

    def _accepted(self, vector: list[float]) -> list[float]:
        if vector and len(vector) != EMBEDDING_DIMENSIONS:
            log.warning("embedding has %d dimensions, expected %d; ignoring it", len(vector),
                        EMBEDDING_DIMENSIONS)
            return []
        return vector


@dataclass(frozen=True)
class AIWiring:
    config: AIConfig
    resolved: ResolvedProvider
    embedder: Embedder
    llm: LLMClient | None
    extraction: ExtractionEngine

    async def aclose(self) -> None:
        await self.embedder.aclose()
        if self.llm is not None:
            await self.llm.aclose()


def ai_config(settings: Settings) -> AIConfig:
    """The §2 environment variables, as read by `Settings`, in the engines' terms."""
    return AIConfig(
        ai_mode=settings.core_ai_mode,
        openai_api_key=settings.openai_api_key,
        openai_base_url=settings.openai_base_url.strip() or None,
        cerebras_api_key=settings.cerebras_api,
        cerebras_base_url=settings.cerebras_base_url.strip() or CEREBRAS_BASE_URL,
        retrieval_model=settings.retrieval_model.strip() or None,
        embed_model=settings.openai_embed_model.strip() or "text-embedding-3-small",
        use_retrieval_expand=settings.use_retrieval_expand,
    )


def build_ai(
    settings: Settings, on_call: OnCall = record_provider_call, announce: bool = True
) -> AIWiring:
    """Resolve the provider once and build every AI component from it."""
    cfg = ai_config(settings)
    resolved = resolve_provider(cfg)
    embedder = FixedDimensionEmbedder.from_config(cfg, settings.embed_timeout_ms / 1000, on_call)
    llm = LLMClient.from_resolved(cfg, resolved, on_call)
    wiring = AIWiring(cfg, resolved, embedder, llm, ExtractionEngine(llm))
    if announce:
        log_startup(wiring)
    return wiring


def log_startup(ai: AIWiring) -> None:
    for warning in ai.resolved.warnings:
        log.warning(warning)
    suffix = f" ({engine_name(ai.resolved)})" if ai.resolved.has_llm else ""
    log.info("ai mode: %s%s", ai.resolved.mode, suffix)
