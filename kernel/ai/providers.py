"""AI provider resolution (spec §3.1): which LLM client, if any, a process uses.

Resolution is a pure function of an `AIConfig`, evaluated once at start-up by the
composition root, which logs the returned warnings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

CEREBRAS_BASE_URL = "https://api.cerebras.ai/v1"
DEFAULT_MODELS = {"cerebras": "gpt-oss-120b", "openai": "gpt-4o-mini"}
KEY_ENV_VARS = {"cerebras": "CEREBRAS_API", "openai": "OPENAI_API_KEY"}
SIMPLE = "simple"

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


@dataclass(frozen=True)
class AIConfig:
    ai_mode: str = "auto"
    openai_api_key: str = ""
    openai_base_url: str | None = None
    cerebras_api_key: str = ""
    cerebras_base_url: str = CEREBRAS_BASE_URL
    retrieval_model: str | None = None
    embed_model: str = "text-embedding-3-small"
    use_retrieval_expand: bool = True

    def api_key(self, provider: str) -> str:
        key = self.cerebras_api_key if provider == "cerebras" else self.openai_api_key
        return key.strip()

    def base_url(self, provider: str) -> str | None:
        url = self.cerebras_base_url if provider == "cerebras" else self.openai_base_url
        return (url or "").strip() or None


@dataclass(frozen=True)
class ResolvedProvider:
    mode: str  # "cerebras" | "openai" | "simple"
    provider: str | None
    model: str | None
    warnings: tuple[str, ...] = ()

    @property
    def has_llm(self) -> bool:
        return self.provider is not None


def parse_flag(raw: str | None, default: bool) -> bool:
    """Spec flag syntax: 1|true|yes|on / 0|false|no|off (trimmed, any case); else default."""
    value = (raw or "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    return default


def normalize_mode(raw: str | None) -> str:
    return (raw or "").strip().lower() or "auto"


def resolve_provider(cfg: AIConfig) -> ResolvedProvider:
    mode = normalize_mode(cfg.ai_mode)
    for provider in ("cerebras", "openai"):
        if mode in (provider, "auto") and cfg.api_key(provider):
            model = (cfg.retrieval_model or "").strip() or DEFAULT_MODELS[provider]
            return ResolvedProvider(mode=provider, provider=provider, model=model)
    warnings = (_missing_key_warning(mode),) if mode in KEY_ENV_VARS else ()
    return ResolvedProvider(mode=SIMPLE, provider=None, model=None, warnings=warnings)


def _missing_key_warning(mode: str) -> str:
    return (
        f"[core] CORE_AI_MODE={mode} but {KEY_ENV_VARS[mode]} is missing; "
        "falling back to simple mode."
    )


def engine_name(resolved: ResolvedProvider) -> str:
    """`simple`, or `<provider>:<model>` when an LLM client is configured."""
    if resolved.provider is None:
        return SIMPLE
    return f"{resolved.provider}:{resolved.model}"


def search_engine_name(cfg: AIConfig, resolved: ResolvedProvider) -> str:
    """The §3.1 wiring table: LLM recall only with a client and USE_RETRIEVAL_EXPAND."""
    return engine_name(resolved) if cfg.use_retrieval_expand else SIMPLE


def config_from_env(env: Mapping[str, str]) -> AIConfig:
    """Build an `AIConfig` from the spec's environment variable names (blank = unset)."""
    return AIConfig(
        ai_mode=env.get("CORE_AI_MODE", "auto"),
        openai_api_key=env.get("OPENAI_API_KEY", ""),
        openai_base_url=env.get("OPENAI_BASE_URL"),
        cerebras_api_key=env.get("CEREBRAS_API", ""),
        cerebras_base_url=env.get("CEREBRAS_BASE_URL", "").strip() or CEREBRAS_BASE_URL,
        retrieval_model=env.get("RETRIEVAL_MODEL"),
        embed_model=env.get("OPENAI_EMBED_MODEL", "").strip() or "text-embedding-3-small",
        use_retrieval_expand=parse_flag(env.get("USE_RETRIEVAL_EXPAND"), True),
    )
