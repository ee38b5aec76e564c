"""pii: personal data in a span's output: emails, phone numbers, payment cards, US SSNs, IBANs, IP addresses.

The detectors live in traces.pii, shared with redaction at ingest (traces.redact): this rule runs on what was
stored, so it flags what a project's privacy settings left in (a kind set to keep, a format redaction missed).

What each kind matches, and the look-alikes it leaves out, is said in traces.pii. Only the first
``MAX_SCAN_CHARS`` are scanned (said in the details). Details never hold a full match: every value is masked
to its last 4 characters. Retriever, reranker and embedding spans are not scanned: contact details inside
retrieved documents are data, not a leak (an answer that repeats them is flagged on its own span).
"""

from __future__ import annotations

import re
from typing import Any

from evals.evaluators.base import Evaluator, mask, scan_details, skipped, text_of
from evals.evaluators.types import EvalConfig, EvalResult, EvalTarget
from traces.pii import KINDS, find_pii

MAX_MATCHES_LISTED = 20
SKIPPED_KINDS = frozenset({"retriever", "embedding", "reranker"})


def _custom_matches(text: str, patterns: list[dict]) -> list[tuple[str, int, str]]:
    """What the project's privacy custom patterns match (validated when saved: traces.redact.compile_pattern)."""
    out: list[tuple[str, int, str]] = []
    for item in patterns or ():
        try:
            regex = re.compile(item["pattern"])
        except (re.error, KeyError, TypeError):
            continue
        for m in regex.finditer(text):
            out.append((str(item.get("name", "custom")), m.start(), m.group()))
            if len(out) >= MAX_MATCHES_LISTED * 10:
                return out
    return out


class Pii(Evaluator):
    name = "pii"
    version = "1"
    kind = "rule"
    target = "span"
    description = "No personal data in the output: emails, phones, payment cards, SSNs, IBANs, IP addresses."

    def applies(self, target: EvalTarget, config: EvalConfig | None = None) -> bool:
        if target.kind in SKIPPED_KINDS:
            return False
        text, _ = text_of(target.output_text, 64)
        return bool(text.strip())

    def evaluate(self, target: EvalTarget, config: EvalConfig) -> EvalResult:
        text, truncated = text_of(target.output_text)
        if not text.strip():
            return skipped("The span has no output.")
        matches = find_pii(text) + _custom_matches(text, config.custom_patterns)
        matches.sort(key=lambda m: m[1])
        details: dict[str, Any] = scan_details(truncated, len(text))
        if not matches:
            return EvalResult(
                value=1.0,
                passed=True,
                label="clean",
                explanation="No personal data found in the output.",
                details=details,
            )
        counts: dict[str, int] = {}
        for kind, _, _ in matches:
            counts[kind] = counts.get(kind, 0) + 1
        kinds = [k for k in KINDS if k in counts] + sorted(k for k in counts if k not in KINDS)
        details.update(
            kinds=kinds,
            counts=counts,
            matches=[{"kind": k, "masked": mask(v), "start": s} for k, s, v in matches[:MAX_MATCHES_LISTED]],
        )
        listed = ", ".join(f"{counts[k]} {k.replace('_', ' ')}" for k in kinds)
        return EvalResult(
            value=0.0,
            passed=False,
            label="pii:" + ",".join(kinds),
            explanation=f"The output contains personal data: {listed}.",
            details=details,
        )
