"""Model prices and the cost of one call.

Prices are USD per million tokens, {"input": x, "output": y}. A model name is matched against fnmatch
patterns, case-insensitively, after dropping what does not change the price:
- a provider or router prefix: ``openai/gpt-4o``, ``models/gemini-2.0-flash``, Bedrock's
  ``us.anthropic.claude-...`` / ``anthropic.claude-...``, Vertex's ``publishers/google/models/...``;
- a Bedrock version suffix (``-v1:0``) and a date suffix (``-2024-07-18``, ``-20241022``): both the name
  with its date and the name without it are tried.

The most specific pattern wins: the one with the most literal (non-wildcard) characters, then an exact
pattern over a wildcard one. So ``gpt-4o-mini-2024-07-18`` gets ``gpt-4o-mini*``'s price, not ``gpt-4o*``'s.
A project's overrides ({pattern: {"input": x, "output": y}}, same units) are looked up first, with the
same rule; any override that matches beats the built-in table.

The table is a snapshot of list prices (without batch, cache or long-context tiers); the prices of
open-weight models (Llama, Mistral's open models) depend on the host and are a common host's.
"""

from __future__ import annotations

import math
import re
from fnmatch import translate
from functools import lru_cache

# pattern -> (input, output) USD per million tokens
BUILTIN_PRICES: dict[str, tuple[float, float]] = {
    # OpenAI
    "gpt-4o*": (2.50, 10.00),
    "gpt-4o-2024-05-13": (5.00, 15.00),
    "gpt-4o-mini*": (0.15, 0.60),
    "chatgpt-4o*": (5.00, 15.00),
    "gpt-4.1*": (2.00, 8.00),
    "gpt-4.1-mini*": (0.40, 1.60),
    "gpt-4.1-nano*": (0.10, 0.40),
    "gpt-4.5*": (75.00, 150.00),
    "gpt-4-turbo*": (10.00, 30.00),
    "gpt-4-*-preview": (10.00, 30.00),
    "gpt-4": (30.00, 60.00),
    "gpt-4-0613": (30.00, 60.00),
    "gpt-4-32k*": (60.00, 120.00),
    "gpt-3.5-turbo*": (0.50, 1.50),
    "gpt-3.5-turbo-instruct*": (1.50, 2.00),
    "gpt-5*": (1.25, 10.00),
    "gpt-5-mini*": (0.25, 2.00),
    "gpt-5-nano*": (0.05, 0.40),
    "o1*": (15.00, 60.00),
    "o1-mini*": (1.10, 4.40),
    "o1-pro*": (150.00, 600.00),
    "o3*": (2.00, 8.00),
    "o3-mini*": (1.10, 4.40),
    "o3-pro*": (20.00, 80.00),
    "o4-mini*": (1.10, 4.40),
    "text-embedding-3-small": (0.02, 0.0),
    "text-embedding-3-large": (0.13, 0.0),
    "text-embedding-ada-002": (0.10, 0.0),
    # Anthropic
    "claude-3-haiku*": (0.25, 1.25),
    "claude-3-sonnet*": (3.00, 15.00),
    "claude-3-opus*": (15.00, 75.00),
    "claude-3-5-haiku*": (0.80, 4.00),
    "claude-3-5-sonnet*": (3.00, 15.00),
    "claude-3-7-sonnet*": (3.00, 15.00),
    "claude-sonnet-4*": (3.00, 15.00),
    "claude-haiku-4*": (1.00, 5.00),
    "claude-opus-4*": (15.00, 75.00),
    "claude-opus-4-5*": (5.00, 25.00),
    # Google
    "gemini-1.5-flash*": (0.075, 0.30),
    "gemini-1.5-flash-8b*": (0.0375, 0.15),
    "gemini-1.5-pro*": (1.25, 5.00),
    "gemini-2.0-flash*": (0.10, 0.40),
    "gemini-2.0-flash-lite*": (0.075, 0.30),
    "gemini-2.5-flash*": (0.30, 2.50),
    "gemini-2.5-flash-lite*": (0.10, 0.40),
    "gemini-2.5-pro*": (1.25, 10.00),
    "text-embedding-004": (0.0, 0.0),
    # Meta Llama (a common host's prices)
    "*llama*3*-8b*": (0.05, 0.08),
    "*llama*3*-70b*": (0.59, 0.79),
    "*llama*3*-405b*": (3.00, 3.00),
    "*llama*4*scout*": (0.11, 0.34),
    "*llama*4*maverick*": (0.20, 0.60),
    # Mistral
    "mistral-large*": (2.00, 6.00),
    "mistral-medium*": (0.40, 2.00),
    "mistral-small*": (0.10, 0.30),
    "open-mistral-nemo*": (0.15, 0.15),
    "ministral-8b*": (0.10, 0.10),
    "ministral-3b*": (0.04, 0.04),
    "codestral*": (0.30, 0.90),
    "mistral-embed": (0.10, 0.0),
    # DeepSeek
    "deepseek-chat": (0.27, 1.10),
    "deepseek-reasoner": (0.55, 2.19),
}

_WILDCARDS = frozenset("*?[")
# Provider and router prefixes; Bedrock's cross-region inference profiles (us./eu./apac./global.).
_PREFIX = re.compile(
    r"^(?:[a-z0-9_-]+/)*(?:(?:us|eu|apac|global|us-gov)\.)?(?:anthropic|meta|mistral|amazon|cohere|ai21|deepseek)\."
    r"|^(?:[a-z0-9_.-]+/)+"
)
_BEDROCK_VERSION = re.compile(r"-v\d+(?::\d+)?$")
_DATE = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{8})$")


@lru_cache(maxsize=4096)
def _compiled(pattern: str) -> tuple[re.Pattern[str], int, bool]:
    """A pattern as (regex, literal characters, has wildcards): the last two rank specificity."""
    lowered = pattern.strip().lower()
    literal = sum(1 for c in lowered if c not in _WILDCARDS)
    return re.compile(translate(lowered)), literal, any(c in _WILDCARDS for c in lowered)


@lru_cache(maxsize=4096)
def _candidates(model: str) -> tuple[str, ...]:
    name = model.strip().lower()
    name = _PREFIX.sub("", name)
    name = _BEDROCK_VERSION.sub("", name)
    undated = _DATE.sub("", name)
    return (name,) if undated == name else (name, undated)


def _best(names: tuple[str, ...], patterns) -> str | None:
    best, best_rank = None, None
    for pattern in patterns:
        regex, literal, wild = _compiled(pattern)
        if any(regex.match(n) for n in names):
            rank = (literal, not wild)
            if best_rank is None or rank > best_rank:
                best, best_rank = pattern, rank
    return best


@lru_cache(maxsize=4096)
def _builtin_price(model: str) -> tuple[float, float] | None:
    pattern = _best(_candidates(model), BUILTIN_PRICES)
    return BUILTIN_PRICES[pattern] if pattern else None


def _as_price(value) -> float:
    try:
        price = float(value or 0.0)
    except (TypeError, ValueError):
        return 0.0
    return price if math.isfinite(price) and price >= 0 else 0.0


def price_for(model: str, overrides: dict | None = None) -> tuple[float, float] | None:
    """(input, output) USD per million tokens for a model, or None when it is unknown."""
    if not model:
        return None
    if overrides:
        pattern = _best(_candidates(model), [p for p in overrides if isinstance(p, str) and p.strip()])
        if pattern is not None:
            entry = overrides[pattern]
            if isinstance(entry, dict):
                return _as_price(entry.get("input")), _as_price(entry.get("output"))
    return _builtin_price(model)


def cost_for(
    model: str, input_tokens: int | None, output_tokens: int | None, overrides: dict | None = None
) -> float | None:
    """USD cost of one call, or None for an unknown model or a call without token counts."""
    if input_tokens is None and output_tokens is None:
        return None
    price = price_for(model, overrides)
    if price is None:
        return None
    return ((input_tokens or 0) * price[0] + (output_tokens or 0) * price[1]) / 1_000_000
