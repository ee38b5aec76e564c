"""citation_integrity: every source the output cites is among the documents retrieved for it.

Citations recognised (code blocks and inline code are ignored first):

- ``[1]``, ``[1, 3]``, ``[2-4]``, ``[Source 2]``: 1-based indexes into the documents (1 to 999; a longer
  number is taken as a document id);
- ``[doc-17]``, ``[kb:refunds_v2]``, ``["doc-17", "doc-3"]``: ids; a bracketed token counts as an id only
  when it holds a digit or one of ``-_:./`` (so "[x]", "[NOTE]", "[citation needed]" are prose), and a
  bracket counts only if every part of it reads as a citation ("[0, 1]" is an interval, not two refs);
  Markdown link text ``[here](url)`` and footnote markers ``[^1]`` are not citations (the URL is);
- ``(source: doc-17)``, ``(sources: a, b)``, ``(ref: Refund policy)``: ids, sources or titles;
- bare URLs and Markdown link targets (http/https);
- in a JSON answer: the values under keys such as ``sources``, ``citations``, ``doc_ids`` (strings, numbers,
  lists, objects with an id/url), plus the citations written inside its strings; other arrays are data.

The documents are the target's own, else those of the retriever spans before it in the trace. A cited id
is known when it equals (case-insensitively) a document's id, or one of its metadata's id/url/source/path/
title values, or the last segment of such a path or URL (with or without its extension); an index when it
is within the document count or equals a document id; a URL when it equals a document's URL (ignoring
case, the fragment, a trailing slash, a default port and, as a fallback, the query string) or appears in a
document's content. Value: the fraction of distinct citations found; passes when all are.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from evals.evaluators.base import ANSWER_KINDS, Evaluator, scan_details, skipped, text_of
from evals.evaluators.types import EvalConfig, EvalResult, EvalTarget

MAX_LISTED = 50
MAX_RANGE = 20
_ID_KEYS = frozenset({
    "id", "doc_id", "document_id", "source_id", "chunk_id", "url", "uri", "link", "href", "source", "source_url",
    "path", "file_path", "filename", "file_name", "title", "name",
})  # fmt: skip

_CODE = re.compile(r"```.*?(?:```|\Z)|`[^`\n]{1,500}`", re.DOTALL)
_BRACKET = re.compile(r"\[([^\[\]\n]{1,200})\](?!\()")
_SOURCE = re.compile(
    r"(?i)\((?:sources?|src|refs?|references?|citations?|cited|docs?|documents?)\s*[:#]\s*([^()\n]{1,300})\)"
)
_URL = re.compile(r"https?://[^\s<>()\[\]{}\"'`|\\^]+")
_INDEX = re.compile(
    r"(?:(?:source|src|doc|document|ref|reference|citation)(?:\s+|\s*#\s*))?([1-9]\d{0,2})", re.IGNORECASE
)
_RANGE = re.compile(r"([1-9]\d{0,2})\s*[-\u2013]\s*([1-9]\d{0,2})")
_ID_TOKEN = re.compile(r"[A-Za-z0-9][\w.:/#-]{0,100}")
_ID_MARK = re.compile(r"[\d_:./-]")
_NOT_AN_ID = re.compile(r"\d{4}-\d{2}-\d{2}|\d{1,2}:\d{2}|v?\d+(?:\.\d+)+")  # dates, times, versions
_SPLIT = re.compile(r"\s*[,;]\s*")
# Keys of a JSON answer whose values are citations.
_CITATION_KEYS = frozenset({
    "source", "sources", "citation", "citations", "reference", "references", "ref", "refs", "cited", "cites",
    "doc_id", "doc_ids", "document_id", "document_ids", "source_id", "source_ids", "context_ids",
})  # fmt: skip


def _bracket_refs(inner: str) -> list[tuple[str, str]] | None:
    """The citations inside one [...], or None when it is not a citation bracket."""
    if inner.startswith("^"):
        return None
    refs: list[tuple[str, str]] = []
    for part in _SPLIT.split(inner.strip()):
        part = part.strip().strip("\"'")
        if not part:
            return None
        if part.startswith(("http://", "https://")):
            continue  # found by the URL scan
        m = _INDEX.fullmatch(part)
        if m:
            refs.append(("index", m.group(1)))
            continue
        m = _RANGE.fullmatch(part)
        if m:
            lo, hi = int(m.group(1)), int(m.group(2))
            if lo >= hi or hi - lo > MAX_RANGE:
                return None
            refs.extend(("index", str(n)) for n in range(lo, hi + 1))
            continue
        if part.isdigit() and int(part) == 0:
            return None  # "[0, 1]" is an interval, "arr[0]" an index: 1-based citations start at 1
        if _ID_TOKEN.fullmatch(part) and _ID_MARK.search(part) and not _NOT_AN_ID.fullmatch(part):
            refs.append(("id", part))
            continue
        return None
    return refs


def _clean_url(url: str) -> str:
    return url.rstrip(".,;:!?*_~")


def find_citations(text: str) -> list[tuple[str, str]]:
    """Distinct citations in the text as (kind, ref), kind one of index, id, url; in order of appearance."""
    found: dict[tuple[str, str], None] = {}
    if text.lstrip()[:1] in ("{", "["):
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            pass
        else:
            _json_citations(data, found, 0)
            return list(found)
    _prose_citations(text, found)
    return list(found)


def _prose_citations(text: str, found: dict[tuple[str, str], None]) -> None:
    if "[" not in text and "(" not in text and "http" not in text:
        return
    if "`" in text:
        text = _CODE.sub(" ", text)
    if "[" in text:
        for m in _BRACKET.finditer(text):
            for ref in _bracket_refs(m.group(1)) or ():
                found[ref] = None
    if "(" in text:
        for m in _SOURCE.finditer(text):
            for part in _SPLIT.split(m.group(1).strip()):
                part = part.strip().strip("\"'")
                if part and not part.startswith(("http://", "https://")):
                    found[("id", part[:200])] = None
    if "http" in text:
        for m in _URL.finditer(text):
            url = _clean_url(m.group())
            if len(url) > len("https://"):
                found[("url", url[:2000])] = None


def _json_citations(data: Any, found: dict[tuple[str, str], None], depth: int) -> None:
    """Citations in a JSON answer: the values under citation keys, and those written inside its strings.

    Arrays elsewhere (``"order_ids": ["A-10492"]``) are data, not bracketed citations.
    """
    if depth > 32 or len(found) > 1000:
        return
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(key, str) and key.lower() in _CITATION_KEYS:
                _cited_values(value, found, depth + 1)
            else:
                _json_citations(value, found, depth + 1)
    elif isinstance(data, list):
        for item in data:
            _json_citations(item, found, depth + 1)
    elif isinstance(data, str):
        _prose_citations(data, found)


def _cited_values(value: Any, found: dict[tuple[str, str], None], depth: int) -> None:
    """The refs of a JSON citation field: "doc-17", 2, ["doc-17", "https://..."], [{"id": "doc-17"}]."""
    if depth > 32:
        return
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, int):
        found[("index" if 1 <= value <= 999 else "id", str(value))] = None
    elif isinstance(value, str):
        ref = value.strip()
        if ref.startswith(("http://", "https://")) and " " not in ref:
            found[("url", _clean_url(ref)[:2000])] = None
        elif "[" in ref or "(" in ref or " http" in ref:
            _prose_citations(ref, found)
        elif ref.isdigit() and 1 <= int(ref) <= 999:
            found[("index", ref)] = None
        elif ref:
            found[("id", ref[:200])] = None
    elif isinstance(value, list):
        for item in value:
            _cited_values(item, found, depth + 1)
    elif isinstance(value, dict):
        for key in ("id", "doc_id", "document_id", "url", "source"):
            if key in value:
                _cited_values(value[key], found, depth + 1)
                break


def _url_keys(url: str) -> tuple[str, str]:
    """(normalised URL, normalised URL without its query) for comparison."""
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        low = url.strip().lower().rstrip("/")
        return low, low
    if port and not ((parts.scheme == "http" and port == 80) or (parts.scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    path = parts.path.rstrip("/")
    base = f"{parts.scheme.lower()}://{host}{path}"
    return (f"{base}?{parts.query}" if parts.query else base), base


def documents_for(target: EvalTarget) -> list[dict[str, Any]]:
    """The target's documents, else those of the retriever spans before it in the trace."""
    docs = target.documents if isinstance(target.documents, list) else []
    if not docs and isinstance(target.spans, list) and target.spans:
        spans = target.spans
        for i, span in enumerate(spans):
            if target.span_id and getattr(span, "span_id", None) == target.span_id:
                spans = spans[:i]
                break
        docs = [d for s in spans if getattr(s, "kind", "") == "retriever" for d in (s.documents or ())]
    return [d if isinstance(d, dict) else {"content": d} for d in docs if d is not None]


class _Known:
    """What the documents can be cited by."""

    def __init__(self, docs: list[dict[str, Any]]) -> None:
        self.docs = docs
        self.count = len(docs)
        self.ids: set[str] = set()
        self.urls: set[str] = set()
        self._contents: list[str] | None = None
        for doc in docs:
            self._add(doc.get("id"))
            metadata = doc.get("metadata")
            if isinstance(metadata, dict):
                for key, value in metadata.items():
                    if key in _ID_KEYS:
                        self._add(value)
            elif isinstance(metadata, str):
                self._add(metadata)

    def _add(self, value: Any) -> None:
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            return
        value = value.strip()
        low = value.lower()
        if not low:
            return
        self.ids.add(low)
        if low.startswith(("http://", "https://")):
            # Case-insensitive, like ids: a model that changes a path's case has not invented a source.
            self.urls.update(_url_keys(low))
            tail = urlsplit(low).path.rstrip("/").rsplit("/", 1)[-1]
        else:
            tail = low.rstrip("/").rsplit("/", 1)[-1]
        if tail and tail != low:
            self.ids.add(tail)
        if "." in tail:
            self.ids.add(tail.rsplit(".", 1)[0])

    @property
    def contents(self) -> list[str]:
        # Only needed for a URL no document is known by, so only read then.
        if self._contents is None:
            self._contents = [c for c in (text_of(d.get("content"), 20_000)[0] for d in self.docs) if c]
        return self._contents

    def has(self, kind: str, ref: str) -> bool:
        if kind == "index":
            return 1 <= int(ref) <= self.count or ref in self.ids
        if kind == "url":
            full, base = _url_keys(ref.lower())
            if full in self.urls or base in self.urls or ref.lower() in self.ids:
                return True
            probe = ref.rstrip("/")
            return any(probe in content for content in self.contents)
        return ref.lower() in self.ids


class CitationIntegrity(Evaluator):
    name = "citation_integrity"
    version = "1"
    kind = "rule"
    target = "span"
    description = "Every id, index or URL the output cites is among the documents retrieved for it."

    def __init__(self) -> None:
        self._last: tuple[str, list[tuple[str, str]]] = ("", [])

    def _citations(self, text: str) -> list[tuple[str, str]]:
        # applies() and evaluate() run back to back on the same text: parse it once.
        last = self._last
        if last[0] is text:
            return last[1]
        citations = find_citations(text)
        self._last = (text, citations)
        return citations

    def applies(self, target: EvalTarget, config: EvalConfig | None = None) -> bool:
        if target.kind not in ANSWER_KINDS:
            return False
        text, _ = text_of(target.output_text)
        if not text or not self._citations(text):
            return False
        return bool(documents_for(target))

    def evaluate(self, target: EvalTarget, config: EvalConfig) -> EvalResult:
        text, truncated = text_of(target.output_text)
        citations = self._citations(text)
        docs = documents_for(target)
        if not citations:
            return skipped("The output cites nothing.")
        if not docs:
            return skipped("No documents were retrieved for this span.")
        known = _Known(docs)
        checked = [(kind, ref, known.has(kind, ref)) for kind, ref in citations]
        broken = [ref for _, ref, ok in checked if not ok]
        total = len(checked)
        details: dict[str, Any] = {
            "citations": [{"kind": k, "ref": r[:300], "found": ok} for k, r, ok in checked[:MAX_LISTED]],
            "broken": [r[:300] for r in broken[:MAX_LISTED]],
            "documents": known.count,
            **scan_details(truncated, len(text)),
        }
        if not broken:
            return EvalResult(
                value=1.0,
                passed=True,
                label="valid",
                explanation=(
                    "The citation points to a retrieved document."
                    if total == 1
                    else f"All {total} citations point to retrieved documents."
                ),
                details=details,
            )
        shown = ", ".join([f"[{r}]" if k == "index" else r[:100] for k, r, ok in checked if not ok][:3])
        n = len(broken)
        explanation = (
            f"{n} of {total} citations {'points' if n == 1 else 'point'} to no retrieved document: {shown}"
            + (", ..." if n > 3 else "")
            + "."
        )
        return EvalResult(
            value=(total - len(broken)) / total,
            passed=False,
            label="broken",
            explanation=explanation,
            details=details,
        )
