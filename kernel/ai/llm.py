"""JSON-mode LLM client over the official OpenAI SDK (spec §3.2).

Cerebras is reached through its OpenAI-compatible Chat Completions API, OpenAI
through the Responses API. A call returns the parsed JSON object of the reply,
`None` when the reply is empty, not JSON or not an object, and raises `LLMError`
(`LLMTimeoutError` on timeout) on HTTP, network and timeout failures.
Per §15 Q19 each request carries only parameters its model accepts.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

import openai

from kernel.ai.providers import AIConfig, ResolvedProvider
from kernel.input_limits import NUL
from kernel.telemetry.tracing import client_span

OnCall = Callable[[str, str, float, str], None]
"""on_call(provider, operation, seconds, outcome) with outcome in ok|error|timeout."""

T = TypeVar("T")

_REASONING = re.compile(r"^(o\d|gpt-5)(?!.*-chat)")
_MINIMAL_EFFORT = re.compile(r"^gpt-5(-mini|-nano)?(-\d{4}-\d{2}-\d{2})?$")
_NO_EFFORT = re.compile(r"^(o1-mini|o1-preview|gpt-5(\.\d+)?-pro)")


class LLMError(Exception):
    """An LLM call failed: missing key, non-2xx status or network error."""


class LLMTimeoutError(LLMError):
    """An LLM call did not finish within its timeout and was aborted."""


def no_op_on_call(provider: str, operation: str, seconds: float, outcome: str) -> None:
    return None


async def observe(
    on_call: OnCall, provider: str, operation: str, timeout_s: float,
    call: Callable[[], Awaitable[T]],
) -> T:
    """Run `call` under a hard deadline and report its latency and outcome."""
    started = time.perf_counter()
    outcome = "error"
    with client_span(f"{provider} {operation}", provider, operation) as span:
        try:
            async with asyncio.timeout(timeout_s):
                result = await call()
            outcome = "ok"
            return result
        except (TimeoutError, openai.APITimeoutError):
            outcome = "timeout"
            raise
        finally:
            on_call(provider, operation, time.perf_counter() - started, outcome)
            if span is not None:
                span.set_attribute("core.outcome", outcome)


def is_reasoning_model(model: str) -> bool:
    return bool(_REASONING.match(model.lower()))


def reasoning_effort(model: str) -> str | None:
    """Lowest effort the model accepts; None when it takes no `reasoning` parameter."""
    name = model.lower()
    if not is_reasoning_model(name) or _NO_EFFORT.match(name):
        return None
    return "minimal" if _MINIMAL_EFFORT.match(name) else "low"


def parse_json_object(text: str | None) -> dict[str, Any] | None:
    stripped = (text or "").strip()
    if not stripped:
        return None
    try:
        value = json.loads(stripped)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def as_number(value: object) -> float | None:
    """A finite number from a JSON number or numeric string; None otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def clamp(value: float | None, low: float, high: float, default: float) -> float:
    return default if value is None else min(max(value, low), high)


def as_text(value: object) -> str:
    """A JSON scalar as trimmed text; "" for null, objects and arrays. NUL characters are
    dropped: a model's reply must not carry what Postgres cannot store."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(int(value)) if float(value).is_integer() else repr(value)
    return value.replace(NUL, "").strip() if isinstance(value, str) else ""


def string_list(value: object, limit: int | None = None) -> list[str]:
    """A JSON array as trimmed non-empty strings, optionally only the first `limit`."""
    texts = [as_text(item) for item in value] if isinstance(value, list) else []
    return [text for text in texts if text][:limit]


def recent_context(items: Iterable[object]) -> list[str]:
    """Context items stringified, trimmed, empties dropped, last 5 kept."""
    cleaned = [str(item).strip() for item in items if item is not None]
    return [item for item in cleaned if item][-5:]


def context_block(context: Iterable[object]) -> str:
    items = recent_context(context)
    if not items:
        return ""
    lines = "\n".join(f"{n}. {item}" for n, item in enumerate(items, start=1))
    return f"\nRecent conversation:\n{lines}\n"


class LLMClient:
    def __init__(
        self, provider: str, model: str, api_key: str, base_url: str | None = None,
        on_call: OnCall = no_op_on_call,
    ) -> None:
        self.provider = provider
        self.model = model
        self._api_key = api_key.strip()
        self._on_call = on_call
        self._sdk = openai.AsyncOpenAI(
            api_key=self._api_key or "unset", base_url=base_url, max_retries=0
        )

    @classmethod
    def from_resolved(
        cls, cfg: AIConfig, resolved: ResolvedProvider, on_call: OnCall = no_op_on_call
    ) -> LLMClient | None:
        if resolved.provider is None or resolved.model is None:
            return None
        provider = resolved.provider
        return cls(provider, resolved.model, cfg.api_key(provider), cfg.base_url(provider), on_call)

    @property
    def name(self) -> str:
        return f"{self.provider}:{self.model}"

    async def aclose(self) -> None:
        await self._sdk.close()

    async def complete_json(
        self, system: str, user: str, timeout_s: float, temperature: float = 0.0,
        *, operation: str = "complete",
    ) -> dict[str, Any] | None:
        if not self._api_key:
            raise LLMError(f"[core:{self.provider}] {self._key_env_var()} env var is not set")
        send = self._chat if self.provider == "cerebras" else self._responses
        try:
            text = await observe(
                self._on_call, self.provider, operation, timeout_s,
                lambda: send(system, user, timeout_s, temperature),
            )
        except (TimeoutError, openai.APITimeoutError) as exc:
            raise LLMTimeoutError(f"[core:{self.provider}] timed out after {timeout_s}s") from exc
        except openai.APIStatusError as exc:
            detail = f"{exc.status_code} - {exc.response.text}"
            raise LLMError(f"[core:{self.provider}] API error: {detail}") from exc
        except openai.OpenAIError as exc:
            raise LLMError(f"[core:{self.provider}] request failed: {exc}") from exc
        return parse_json_object(text)

    def _key_env_var(self) -> str:
        return "CEREBRAS_API" if self.provider == "cerebras" else "OPENAI_API_KEY"

    async def _chat(self, system: str, user: str, timeout_s: float, temperature: float) -> str:
        completion = await self._sdk.chat.completions.create(
            model=self.model,
            messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
            stream=False, temperature=temperature, top_p=1, seed=0,
            response_format={"type": "json_object"}, timeout=timeout_s,
        )
        choices = completion.choices or []
        return (choices[0].message.content or "") if choices else ""

    async def _responses(
        self, system: str, user: str, timeout_s: float, temperature: float
    ) -> str:
        response = await self._sdk.responses.create(
            model=self.model,
            input=[_input_message("developer", system), _input_message("user", user)],
            store=False, text={"format": {"type": "json_object"}}, timeout=timeout_s,
            **self._sampling_params(temperature),
        )
        return _responses_text(response)

    def _sampling_params(self, temperature: float) -> dict[str, Any]:
        if not is_reasoning_model(self.model):
            return {"temperature": temperature}
        effort = reasoning_effort(self.model)
        return {"reasoning": {"effort": effort}} if effort else {}


def _input_message(role: str, text: str) -> Any:
    return {"role": role, "content": [{"type": "input_text", "text": text}]}


def _responses_text(response: Any) -> str:
    for item in response.output or []:
        if getattr(item, "type", None) == "message" and getattr(item, "role", None) == "assistant":
            for part in item.content or []:
                if getattr(part, "type", None) == "output_text":
                    return str(part.text or "").strip()
    return str(response.output_text or "").strip()
