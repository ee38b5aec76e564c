"""Group flagged cases by failure pattern, so one representative is promoted instead of twenty near-duplicates.

Two cases share a pattern when they carry the same set of failure labels and both their inputs and their
outputs are similar: the Jaccard index of their normalised token sets is at least ``threshold`` (0.6).
Tokens are lowercase words and numbers; numbers are kept, so "order 123" and "order 456" differ by one
token, which long texts absorb and short ones do not.

Grouping is greedy in the order given: a case joins the first group whose representative it matches,
else starts a group. Give cases already in a golden set first and they become the representatives, so a
new near-duplicate of an existing case is recognised as such. Pure: plain dicts in, plain data out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

DEFAULT_THRESHOLD = 0.6
_TOKEN = re.compile(r"[a-z0-9]+")


def tokens(text: str) -> frozenset[str]:
    return frozenset(_TOKEN.findall((text or "").lower()))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


@dataclass
class Group:
    labels: tuple[str, ...]
    representative: Any  # the case's "key"
    members: list[Any] = field(default_factory=list)  # keys, representative first


def group_cases(cases: Sequence[dict[str, Any]], threshold: float = DEFAULT_THRESHOLD) -> list[Group]:
    """Cases are dicts with "key", "labels", "input", "output" (and optionally "pinned": already in a set).

    A group's representative is its pinned member when it has one, else the first member with an expected
    output ("expected" truthy), else its first member.
    """
    groups: list[tuple[Group, frozenset[str], frozenset[str], list[dict]]] = []
    for case in cases:
        labels = tuple(sorted({str(label) for label in case.get("labels") or []}))
        inp, out = tokens(case.get("input", "")), tokens(case.get("output", ""))
        for group, g_in, g_out, members in groups:
            if group.labels == labels and jaccard(inp, g_in) >= threshold and jaccard(out, g_out) >= threshold:
                group.members.append(case["key"])
                members.append(case)
                break
        else:
            groups.append((Group(labels=labels, representative=case["key"], members=[case["key"]]), inp, out, [case]))
    result = []
    for group, _, _, members in groups:
        best = next((c for c in members if c.get("pinned")), None) or next(
            (c for c in members if c.get("expected")), members[0]
        )
        group.representative = best["key"]
        group.members = [best["key"]] + [c["key"] for c in members if c is not best]
        result.append(group)
    return result
