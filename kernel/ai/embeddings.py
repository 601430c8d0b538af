"""OpenAI embeddings (spec §3.3) that never raise: any failure is "no embedding" (`[]`)."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable

import openai

from kernel.ai.llm import OnCall, no_op_on_call, observe
from kernel.ai.providers import AIConfig

log = logging.getLogger("core.ai.embeddings")

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
