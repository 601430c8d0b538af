"""OpenAI embeddings (spec §3.3) that never raise: any failure is "no embedding" (`[]`)."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Iterable, Sequence

import openai

from kernel.ai.llm import OnCall, no_op_on_call, observe
from kernel.ai.providers import AIConfig

log = logging.getLogger("core.ai.embeddings")

MAX_TEXTS_PER_CALL = 100
"""Texts per embeddings request: well inside the provider's input and token limits."""

NO_KEY_WARNING = (
    "[core] OPENAI_API_KEY not set; embedding-enabled routes will fall back to "
    "non-vector behavior."
)


def clean_vector(values: Iterable[object]) -> list[float]:
    """Drop non-numeric and non-finite components; turn -0 into 0."""
    numbers = (float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool))
    return [v + 0.0 for v in numbers if math.isfinite(v)]


def vector_literal(vec: Iterable[object]) -> str:
    """The pgvector text form `[v1,v2,...]` of a cleaned vector."""
    return "[" + ",".join(repr(v) for v in clean_vector(vec)) + "]"


class Embedder:
    def __init__(
        self, api_key: str, model: str = "text-embedding-3-small", base_url: str | None = None,
        timeout_s: float = 3.0, on_call: OnCall = no_op_on_call,
    ) -> None:
        self.model = model
        self.timeout_s = timeout_s
        self._on_call = on_call
        self._warned = False
        key = api_key.strip()
        self._sdk = (
            openai.AsyncOpenAI(api_key=key, base_url=base_url, max_retries=0) if key else None
        )

    @classmethod
    def from_config(
        cls, cfg: AIConfig, timeout_s: float = 3.0, on_call: OnCall = no_op_on_call
    ) -> Embedder:
        return cls(cfg.openai_api_key, cfg.embed_model, cfg.base_url("openai"), timeout_s, on_call)

    @property
    def enabled(self) -> bool:
        return self._sdk is not None

    async def aclose(self) -> None:
        if self._sdk is not None:
            await self._sdk.close()

    async def embed(self, text: str) -> list[float]:
        trimmed = text.strip()
        if not trimmed:
            return []
        if self._sdk is None:
            self._warn_no_key()
            return []
        sdk = self._sdk
        try:
            return await observe(
                self._on_call, "openai", "embed", self.timeout_s,
                lambda: self._request(sdk, trimmed),
            )
        except Exception as exc:  # an embedding failure only means "no embedding"
            log.debug("embedding failed: %r", exc)
            return []

    async def embed_many(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text (`[]` for a blank text or a failed call), in few requests: up
        to MAX_TEXTS_PER_CALL texts each, sent concurrently, each under its own timeout, so a
        slow or failed request costs the embeddings of its own texts only."""
        vectors: list[list[float]] = [[] for _ in texts]
        wanted = [(i, t.strip()) for i, t in enumerate(texts) if t.strip()]
        if not wanted:
            return vectors
        if self._sdk is None:
            self._warn_no_key()
            return vectors
        chunks = [wanted[i:i + MAX_TEXTS_PER_CALL]
                  for i in range(0, len(wanted), MAX_TEXTS_PER_CALL)]
        for chunk, found in zip(chunks, await asyncio.gather(
                *(self._embed_chunk(self._sdk, [t for _, t in c]) for c in chunks)), strict=True):
            for (index, _), vector in zip(chunk, found, strict=True):
                vectors[index] = self._accepted(vector)
        return vectors

    def _accepted(self, vector: list[float]) -> list[float]:
        """A vector as returned, or `[]`; subclasses refuse some (e.g. of another size)."""
        return vector

    async def _embed_chunk(self, sdk: openai.AsyncOpenAI, texts: list[str]) -> list[list[float]]:
        try:
            return await observe(
                self._on_call, "openai", "embed", self.timeout_s,
                lambda: self._request_many(sdk, texts),
            )
        except Exception as exc:  # an embedding failure only means "no embedding"
            log.debug("embedding of %d texts failed: %r", len(texts), exc)
            return [[] for _ in texts]

    async def _request_many(self, sdk: openai.AsyncOpenAI, texts: list[str]) -> list[list[float]]:
        result = await sdk.embeddings.create(
            model=self.model, input=texts, timeout=self.timeout_s
        )
        vectors: list[list[float]] = [[] for _ in texts]
        for position, item in enumerate(result.data or []):
            index = getattr(item, "index", position)
            vector = getattr(item, "embedding", None)
            if isinstance(index, int) and 0 <= index < len(texts) and isinstance(vector, list):
                vectors[index] = clean_vector(vector)
        return vectors

    async def _request(self, sdk: openai.AsyncOpenAI, text: str) -> list[float]:
        result = await sdk.embeddings.create(
            model=self.model, input=text, timeout=self.timeout_s
        )
        data = result.data or []
        vector = getattr(data[0], "embedding", None) if data else None
        return clean_vector(vector) if isinstance(vector, list) else []

    def _warn_no_key(self) -> None:
        if not self._warned:
            self._warned = True
            log.warning(NO_KEY_WARNING)
