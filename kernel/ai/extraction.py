"""Extraction engines (spec §7.2–7.4) with CORE's decisions Q9, Q16 and Q17 (§15).

* `simple_extract` is the heuristic: one memory per text, five claim patterns.
  Unlike the reference (§15, Q16), a VALUE also ends where a new clause starts: a
  conjunction (`CONJUNCTIONS`) followed by a clause subject (`CLAUSE_SUBJECTS`, a closed
  list: "yellow and I live in Austin" → "yellow"), or followed by clause-ending
  punctuation or the end of the text (the conjunction is dropped); `;` ends a value
  like `. , ! ?`. A conjunction inside a name or a list stays ("Procter and Gamble",
  "hiking and biking"). Every occurrence of a pattern yields its claim (two "my favorite
  … is …" clauses give two claims), the favourite's X ends at the first " is ", and a
  greeting that carries a claim is not trivial.
* Every pattern is searched in linear time (`ClaimPattern.matches`): a megabyte of
  adversarial text must not hold the event loop.
* A claim whose predicate is not a valid identifier (over `MAX_ID_BYTES`, e.g. a
  favourite's X of a thousand letters) is dropped: it would become a slot key.
* `llm_extract` asks the LLM; a reply with zero memories is believed, a failed or
  unusable reply returns None so `ExtractionEngine` falls back to the heuristic.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from itertools import islice
from typing import Any

from kernel.ai.llm import LLMClient, as_number, as_text, clamp, context_block, string_list
from kernel.input_limits import fits

log = logging.getLogger("core.ai.extraction")

KINDS = ("fact", "preference", "context", "note", "event", "trait")
VISIBILITIES = ("private", "shared", "public")
CONJUNCTIONS = ("and", "but", "or", "because", "so", "since", "while", "although", "though")
CLAUSE_SUBJECTS = ("i", "i'm", "i’m", "my", "we", "our", "you", "your", "he", "his", "she",
                   "her", "they", "their", "it", "it's", "it’s", "this", "that", "there")
"""A heuristic VALUE stops before a conjunction that starts a new clause: one followed by
one of these words as a whole word (a contraction such as "I've" or "they're" counts as its
subject), or by `. , ! ? ;` / newline / the end. Else it stops at that punctuation."""
_PUNCT = ".,!?;\n"
_CONJ = "|".join(CONJUNCTIONS)
_SUBJ = "|".join(sorted((re.escape(s) for s in CLAUSE_SUBJECTS), key=len, reverse=True))
# Lazy, with a lookahead of bounded width at each step: a VALUE costs O(its length).
_VALUE = (
    rf"(?P<value>[^{_PUNCT}]+?)"
    rf"(?=\s+(?:{_CONJ})\s+(?:{_SUBJ})(?!\w)|\s+(?:{_CONJ})\s?(?:[{_PUNCT}]|$)"
    rf"|[{_PUNCT}]|$)"
)
MAX_OCCURRENCES = 50
"""Claims taken per pattern and text: one memory never carries thousands of claims."""
_X_RUN = re.compile(r"[a-z ]*", re.IGNORECASE)
"""The letters-and-spaces run a favourite's X may span (the `x` group's class)."""


@dataclass(frozen=True)
class ClaimPattern:
    """One claim pattern, searched only from where its `head` (the literal phrase) matches.
    After a failed attempt the search resumes past the `skip` run, if any."""

    regex: re.Pattern[str]
    head: re.Pattern[str]
    predicate: str
    claim_type: str
    confidence: float
    skip: re.Pattern[str] | None = None

    def matches(self, text: str) -> Iterator[re.Match[str]]:
        """`regex.finditer(text)`: each occurrence, resuming after the previous one."""
        position = 0
        while (match := self.first_match(text, position)) is not None:
            yield match
            position = max(match.end(), match.start() + 1)

    def first_match(self, text: str, position: int = 0) -> re.Match[str] | None:
        """`regex.search(text, position)`, in linear time on whitespace-collapsed text."""
        while (start := self.head.search(text, position)) is not None:
            match = self.regex.match(text, start.start())
            if match is not None:
                return match
            run = self.skip.match(text, start.end()) if self.skip is not None else None
            position = run.end() if run is not None else start.start() + 1
        return None


def _pattern(phrase: str, predicate: str, claim_type: str, confidence: float,
             skip: re.Pattern[str] | None = None) -> ClaimPattern:
    head = re.compile(phrase.partition("(?P<x>")[0], re.IGNORECASE)
    return ClaimPattern(re.compile(phrase + _VALUE, re.IGNORECASE), head, predicate, claim_type,
                    confidence, skip)


# Linear time. After `\s+` (one space in collapsed text) a VALUE always matches when the next
# character may start one, so a failed attempt costs O(1); only the favourite's X scans a
# run (letters and spaces) for " is ". When no X of a start reaches a VALUE, no start inside
# that run can (its X candidates are a subset), so the search skips the run: each character
# is scanned a bounded number of times, where `regex.search` rescanned it from every start.
CLAIM_PATTERNS: tuple[ClaimPattern, ...] = (
    _pattern(r"my name is\s+", "name", "fact", 0.9),
    _pattern(r"i live in\s+", "lives_in", "fact", 0.85),
    _pattern(r"i work at\s+", "works_at", "fact", 0.85),
    _pattern(r"my favorite\s+(?P<x>[a-z ]+?)\s+is\s+", "favorite_{x}", "preference", 0.85,
             skip=_X_RUN),
    _pattern(r"i like\s+", "likes", "preference", 0.7),
)
_GREETING = re.compile(
    r"^(?:ok|thanks|thank you|cool|nice|yes|no|yep|nope|hi|hello|hey)\b", re.ASCII
)


@dataclass(frozen=True)
class ExtractedClaim:
    predicate: str
    object_value: str
    claim_type: str | None = None
    confidence: float | None = None

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {"predicate": self.predicate, "object_value": self.object_value}
        if self.claim_type is not None:
            out["claim_type"] = self.claim_type
        if self.confidence is not None:
            out["confidence"] = self.confidence
        return out


@dataclass(frozen=True)
class ExtractedMemory:
    text: str
    kind: str
    importance: float
    confidence: float
    is_temporal: bool
    visibility: str
    tags: tuple[str, ...]
    claims: tuple[ExtractedClaim, ...]

    def to_api(self) -> dict[str, Any]:
        return {
            "text": self.text, "kind": self.kind, "importance": self.importance,
            "confidence": self.confidence, "is_temporal": self.is_temporal,
            "visibility": self.visibility, "tags": list(self.tags),
            "claims": [claim.to_api() for claim in self.claims],
        }


# --- simple engine (§7.2) -------------------------------------------------------------

def simple_extract(text: str, force: bool) -> list[ExtractedMemory]:
    collapsed = " ".join(text.split())
    if not collapsed:
        return []
    claims = heuristic_claims(collapsed)
    if not force and not claims and is_greeting(collapsed):
        return []
    return [_simple_memory(collapsed, claims, force)]


def is_greeting(text: str) -> bool:
    return len(text) < 40 and bool(_GREETING.match(text.lower()))


def heuristic_claims(text: str) -> tuple[ExtractedClaim, ...]:
    collapsed = " ".join(text.split())  # the linear-time search relies on single spaces
    found = (_pattern_claim(match, pattern) for pattern in CLAIM_PATTERNS
             for match in islice(pattern.matches(collapsed), MAX_OCCURRENCES))
    return _dedupe(claim for claim in found if claim is not None)


def normalize_predicate(raw: str) -> str:
    kept = re.sub(r"[^a-z0-9_ ]", "", raw.lower()).strip()
    return re.sub(r" +", "_", kept)


def _pattern_claim(match: re.Match[str], pattern: ClaimPattern) -> ExtractedClaim | None:
    predicate = normalize_predicate(pattern.predicate.format(**match.groupdict()))
    value = match.group("value").strip()
    if not predicate or not value or not fits(predicate):
        return None
    return ExtractedClaim(predicate, value, pattern.claim_type, pattern.confidence)


def _dedupe(claims: Iterable[ExtractedClaim]) -> tuple[ExtractedClaim, ...]:
    seen: dict[tuple[str, str], ExtractedClaim] = {}
    for claim in claims:
        seen.setdefault((claim.predicate, claim.object_value.lower()), claim)
    return tuple(seen.values())


def _simple_memory(text: str, claims: tuple[ExtractedClaim, ...], force: bool) -> ExtractedMemory:
    return ExtractedMemory(
        text=text[:2000], kind="fact" if claims else "note", importance=70 if force else 50,
        confidence=0.75 if claims else 0.6, is_temporal=False, visibility="private",
        tags=("simple_mode",), claims=claims,
    )


# --- LLM engine (§7.3) ----------------------------------------------------------------

EXTRACT_SYSTEM_PROMPT = """You extract durable user memories from chat text.
Reply strictly with JSON of the form
{"memories":[{"text":"...","kind":"fact|preference|context|note|event|trait",\
"importance":0-100,"confidence":0-1,"is_temporal":false,\
"visibility":"private|shared|public","tags":["..."],\
"claims":[{"predicate":"...","object_value":"...","claim_type":"...","confidence":0-1}]}]}
Rules:
- Prefer durable, user-specific memories (identity, preferences, plans, relationships).
- Write each memory as one concise factual sentence about the user.
- Use snake_case predicates for claims, e.g. lives_in, works_at, favorite_color.
- Return {"memories":[]} when nothing durable is present.
- When force=true, return at least one memory if at all possible."""


def extraction_user_prompt(
    text: str, force: bool, context: Iterable[object], subject_id: str
) -> str:
    flag = "true" if force else "false"
    return f"{context_block(context)}subject_id={subject_id}\nforce={flag}\ntext:\n{text}"


def normalize_llm_memories(raw: object) -> list[ExtractedMemory]:
    """Accepts the reply object (`{"memories": [...]}`) or the list itself."""
    items = raw.get("memories") if isinstance(raw, dict) else raw
    if not isinstance(items, list):
        return []
    memories = (_llm_memory(item) for item in items if isinstance(item, dict))
    return [memory for memory in memories if memory is not None]


def _llm_memory(item: dict[str, Any]) -> ExtractedMemory | None:
    text = as_text(item.get("text"))
    if not text:
        return None
    kind = as_text(item.get("kind")).lower()
    visibility = as_text(item.get("visibility")).lower()
    return ExtractedMemory(
        text=text, kind=kind if kind in KINDS else "fact",
        importance=clamp(as_number(item.get("importance")), 0, 100, default=50),
        confidence=clamp(as_number(item.get("confidence")), 0, 1, default=0.8),
        is_temporal=_llm_bool(item.get("is_temporal")),
        visibility=visibility if visibility in VISIBILITIES else "private",
        tags=tuple(string_list(item.get("tags"))), claims=_llm_claims(item.get("claims")),
    )


def _llm_bool(value: object) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _llm_claims(raw: object) -> tuple[ExtractedClaim, ...]:
    items = raw if isinstance(raw, list) else []
    claims = (_llm_claim(item) for item in items if isinstance(item, dict))
    return tuple(claim for claim in claims if claim is not None)


def _llm_claim(item: dict[str, Any]) -> ExtractedClaim | None:
    predicate, value = as_text(item.get("predicate")), as_text(item.get("object_value"))
    if not predicate or not value or not fits(predicate):
        return None
    confidence = as_number(item.get("confidence"))
    return ExtractedClaim(
        predicate, value, as_text(item.get("claim_type")) or None,
        None if confidence is None else clamp(confidence, 0, 1, default=0.8),
    )


async def llm_extract(
    client: LLMClient, text: str, force: bool, context: Sequence[str] = (),
    timeout_s: float = 4.0, subject_id: str = "",
) -> list[ExtractedMemory] | None:
    """The LLM's memories ([] believed), or None when the caller must fall back."""
    trimmed = text.strip()
    if not trimmed:
        return []
    prompt = extraction_user_prompt(trimmed, force, context, subject_id)
    try:
        reply = await client.complete_json(
            EXTRACT_SYSTEM_PROMPT, prompt, timeout_s, operation="extract"
        )
    except Exception as exc:  # any failure means "fall back to the heuristic"
        log.debug("llm extraction failed: %r", exc)
        return None
    return _believed(reply)


def _believed(reply: dict[str, Any] | None) -> list[ExtractedMemory] | None:
    items = reply.get("memories") if reply is not None else None
    if not isinstance(items, list):
        return None
    memories = normalize_llm_memories(items)
    return None if items and not memories else memories


class ExtractionEngine:
    """The configured engine: the LLM one when a client is given, else the heuristic."""

    def __init__(self, client: LLMClient | None = None, timeout_s: float = 4.0) -> None:
        self._client = client
        self._timeout_s = timeout_s

    @property
    def name(self) -> str:
        return self._client.name if self._client is not None else "simple"

    async def extract(
        self, text: str, force: bool = False, context: Sequence[str] = (), subject_id: str = ""
    ) -> list[ExtractedMemory]:
        if self._client is None:
            return simple_extract(text, force)
        found = await llm_extract(self._client, text, force, context, self._timeout_s, subject_id)
        return simple_extract(text, force) if found is None else found


# --- claims (§7.4, §8.1) --------------------------------------------------------------

def flatten_claims(memories: Iterable[ExtractedMemory], limit: int = 20) -> list[ExtractedClaim]:
    """All claims, trimmed, empties dropped, deduped on lower(predicate)+lower(value)."""
    seen: set[tuple[str, str]] = set()
    out: list[ExtractedClaim] = []
    for claim in (claim for memory in memories for claim in memory.claims):
        predicate, value = claim.predicate.strip(), claim.object_value.strip()
        key = (predicate.lower(), value.lower())
        if predicate and value and key not in seen:
            seen.add(key)
            out.append(replace(claim, predicate=predicate, object_value=value))
    return out[:limit]


def infer_claim_type(predicate: str) -> str:
    if predicate.startswith(("favorite_", "likes_", "dislikes_")):
        return "preference"
    if "goal" in predicate or predicate.startswith("wants_"):
        return "goal"
    if predicate.startswith(("did_", "event_")):
        return "event"
    return "fact"
