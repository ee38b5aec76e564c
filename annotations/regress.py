"""Replaying golden cases against a candidate, grading the answers, and the JUnit XML a CI reads.

The candidate is either an OpenAI-compatible endpoint (POST {base}/chat/completions with the case's
messages and the candidate model) or the user's own HTTP endpoint: a JSON request template whose strings
may hold ``{{input}}``, ``{{model}}``, ``{{case_id}}`` and which may hold ``"{{messages}}"``,
``"{{context}}"``, ``"{{tool_calls}}"`` as whole values (replaced by the JSON lists), and a response path
(``data.answer``, ``choices.0.message.content``) to the answer in the JSON reply.

Replayed messages: the case's message history as plain chat messages. Tool results recorded in the
history are given as system messages ("Tool X returned: ..."), since the candidate's API would refuse a
tool message without its own tool call; the retrieved context is given as a system message when the
history does not already contain it.

Graders: deterministic ones are the evals rules (``evals.evaluators.run_rules``) on an EvalTarget built from
the case and the answer; semantic ones are the evals judges (``judge_sync``). A deterministic failure always
fails the case when that evaluator is blocking in the project (evals.modes; a judge must be calibrated to be
made blocking), or when the caller asked for strict judges (every grader blocks); otherwise it is reported as
advisory. Threshold of a semantic
grader: the calibrated threshold when known, else the grader's own, else 0.5.
"""

from __future__ import annotations

import json
import re
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

import httpx

SEMANTIC = ("faithfulness", "answer_relevancy", "context_precision", "rubric")
_PLACEHOLDER = re.compile(r"\{\{\s*(input|model|case_id)\s*\}\}")


class CandidateUnreachable(Exception):
    """The candidate endpoint could not be reached at all (connection refused, DNS, timeout)."""


@dataclass(frozen=True)
class Candidate:
    url: str  # an OpenAI-compatible base URL (.../v1), or the full URL of the user's endpoint with a template
    model: str = ""
    api_key: str = ""
    request_template: str = ""  # JSON text; empty: OpenAI-compatible chat completions
    response_path: str = ""
    timeout_s: float = 60.0


@dataclass
class Outcome:
    case_id: str
    name: str
    passed: bool
    output: str = ""
    grader_results: list[dict] = field(default_factory=list)
    latency_ms: float | None = None
    error: str = ""

    @property
    def failed_graders(self) -> list[str]:
        return [g["grader"] for g in self.grader_results if g.get("blocking") and g.get("passed") is False]


# ---------------------------------------------------------------- requests


def replay_messages(case: dict) -> list[dict]:
    """The case's history as plain chat messages (see the module docstring)."""
    out: list[dict] = []
    for m in case.get("input_messages") or []:
        role, content = m.get("role"), m.get("content") or ""
        if role == "tool":
            out.append({"role": "system", "content": f"Tool result: {content}"})
        elif role in ("system", "user", "assistant"):
            if not content and m.get("tool_calls"):
                calls = ", ".join(f"{c.get('name')}({c.get('arguments', '')})" for c in m["tool_calls"])
                content = f"[called tools: {calls}]"
            out.append({"role": role, "content": content})
    if not any(m["role"] == "user" for m in out) and case.get("input_text"):
        out.append({"role": "user", "content": case["input_text"]})
    docs = context_texts(case)
    history = "\n".join(m["content"] for m in out)
    missing = [d for d in docs if d not in history]
    if missing:
        out.insert(0, {"role": "system", "content": "Context:\n" + "\n\n".join(missing)})
    return out


def context_texts(case: dict) -> list[str]:
    texts = []
    for d in case.get("context") or []:
        text = d.get("content") if isinstance(d, dict) else d
        if isinstance(text, str) and text.strip():
            texts.append(text)
    return texts


def fill_template(template: Any, case: dict, model: str) -> Any:
    """The user's JSON request template with the case filled in."""
    whole = {
        "{{messages}}": replay_messages(case),
        "{{context}}": context_texts(case),
        "{{tool_calls}}": case.get("tool_calls") or [],
    }
    if isinstance(template, str):
        if template.strip() in whole:
            return whole[template.strip()]
        values = {"input": case.get("input_text") or "", "model": model, "case_id": case.get("case_id") or ""}
        return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)
    if isinstance(template, list):
        return [fill_template(v, case, model) for v in template]
    if isinstance(template, dict):
        return {k: fill_template(v, case, model) for k, v in template.items()}
    return template


def extract_path(data: Any, path: str) -> Any:
    for part in [p for p in path.split(".") if p]:
        if isinstance(data, list) and part.lstrip("-").isdigit():
            data = data[int(part)]
        elif isinstance(data, dict):
            data = data[part]
        else:
            raise KeyError(part)
    return data


def call_candidate(case: dict, candidate: Candidate, client: httpx.Client) -> tuple[str, list[dict]]:
    """(answer text, output messages) from the candidate. Raises CandidateUnreachable or ValueError."""
    model = candidate.model or case.get("model") or ""
    headers = {"Authorization": f"Bearer {candidate.api_key}"} if candidate.api_key else {}
    if candidate.request_template:
        url = candidate.url
        body = fill_template(json.loads(candidate.request_template), case, model)
    else:
        url = candidate.url.rstrip("/") + "/chat/completions"
        body = {"model": model, "messages": replay_messages(case)}
    try:
        response = client.post(url, json=body, headers=headers, timeout=candidate.timeout_s)
    except httpx.TransportError as exc:
        raise CandidateUnreachable(f"{url}: {type(exc).__name__}: {exc}") from exc
    if response.status_code >= 400:
        raise ValueError(f"the candidate answered HTTP {response.status_code}: {response.text[:300]}")
    if candidate.request_template:
        try:
            data = response.json()
        except ValueError:
            if candidate.response_path:
                raise ValueError("the candidate's reply is not JSON") from None
            return response.text, [{"role": "assistant", "content": response.text}]
        try:
            answer = extract_path(data, candidate.response_path) if candidate.response_path else data
        except (KeyError, IndexError, ValueError):
            raise ValueError(f"no {candidate.response_path!r} in the candidate's reply") from None
        text = answer if isinstance(answer, str) else json.dumps(answer, ensure_ascii=False)
        return text, [{"role": "assistant", "content": text}]
    try:
        message = response.json()["choices"][0]["message"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise ValueError("the candidate's reply is not a chat completion") from None
    text = message.get("content") or ""
    calls = [
        {"id": c.get("id", ""), "name": (c.get("function") or {}).get("name", ""),
         "arguments": (c.get("function") or {}).get("arguments", "")}
        for c in message.get("tool_calls") or []
    ]  # fmt: skip
    out = {"role": "assistant", "content": text}
    if calls:
        out["tool_calls"] = calls
    return text, [out]


# ---------------------------------------------------------------- grading


def eval_target(case: dict, output: str, output_messages: list[dict]):
    from evals.evaluators.types import EvalTarget

    wants_json = any(g.get("type") in ("json_valid", "json_schema") for g in case.get("graders") or [])
    docs = [d if isinstance(d, dict) else {"content": str(d)} for d in case.get("context") or []]
    target = EvalTarget(
        span_id="candidate",
        name="golden",
        kind="llm",
        model=case.get("model") or "",
        input_text=case.get("input_text") or "",
        output_text=output,
        input_messages=case.get("input_messages") or [],
        output_messages=output_messages,
        context=context_texts(case),
        documents=docs,
        status="ok",
        # A case graded for JSON is meant to answer JSON, even when the answer does not look like it.
        attributes={"gen_ai.output.type": "json"} if wants_json else {},
    )
    target.spans = [target]
    return target


def _config(grader: dict, threshold: float | None = None):
    from evals.evaluators.types import EvalConfig

    rubric = None
    if grader.get("type") == "rubric":
        rubric = {"criteria": grader.get("criteria", ""), "scale": grader.get("scale") or {"min": 1, "max": 5}}
        if grader.get("pass_threshold") is not None:
            rubric["pass_threshold"] = grader["pass_threshold"]
    return EvalConfig(
        allowed_tools=list(grader.get("allowed") or []),
        json_schemas={"*": grader["schema"]} if isinstance(grader.get("schema"), dict) else {},
        expected_tools=list(grader.get("expected") or []),
        rubric=rubric,
        threshold=threshold if threshold is not None else float(grader.get("threshold", 0.5)),
    )


def grade(
    case: dict,
    output: str,
    output_messages: list[dict],
    *,
    judge=None,
    thresholds: dict[str, float] | None = None,
    blocking_judges: set[str] | None = None,
    blocking_rules: set[str] | None = None,
) -> list[dict]:
    """One result per grader: {"grader", "passed" (None: not run), "value", "reason", "blocking"}. A grader
    blocks when it is in blocking_judges / blocking_rules (None: every judge / every rule blocks)."""
    from evals import evaluators as registry

    thresholds = thresholds or {}
    target = eval_target(case, output, output_messages)
    results = []
    for grader in case.get("graders") or []:
        kind = str(grader.get("type") or "")
        if kind in SEMANTIC:
            results.append(_grade_semantic(kind, grader, target, judge, thresholds, blocking_judges))
            continue
        if kind not in registry.REGISTRY:
            results.append({"grader": kind, "passed": False, "value": None, "blocking": True,
                            "reason": f"unknown grader {kind!r}"})  # fmt: skip
            continue
        blocking = blocking_rules is None or kind in blocking_rules
        result = registry.run_rules(target, _config(grader), [kind]).get(kind)
        if result is None or result.status == "skipped":
            results.append({"grader": kind, "passed": True, "value": None, "blocking": blocking,
                            "reason": "not applicable to this answer"})  # fmt: skip
            continue
        passed = False if result.status == "error" else result.passed is not False
        reason = result.error if result.status == "error" else (result.explanation or result.label)
        results.append(
            {"grader": kind, "passed": passed, "value": result.value, "blocking": blocking, "reason": reason}
        )
    return results


def _grade_semantic(kind, grader, target, judge, thresholds, blocking_judges) -> dict:
    from evals.judges import JUDGES, JudgeError, judge_sync

    calibrated = thresholds.get(kind)
    blocking = blocking_judges is None or kind in blocking_judges
    threshold = calibrated if calibrated is not None else float(grader.get("threshold", 0.5))
    base = {"grader": kind, "blocking": blocking, "threshold": threshold, "calibrated": calibrated is not None}
    if judge is None:
        return {**base, "passed": False if blocking else None, "value": None,
                "reason": "not run: no judge configured (--judge-base-url / PEEKR_JUDGE_*)"}  # fmt: skip
    config = _config(grader, threshold)
    if not JUDGES[kind].applies(target, config):
        return {**base, "passed": True, "value": None, "reason": "not applicable to this answer"}
    try:
        result = judge_sync(kind, target, config, judge)
    except JudgeError as exc:
        return {**base, "passed": False if blocking else None, "value": None, "reason": f"judge error: {exc.reason}"}
    if result.status != "done":
        return {**base, "passed": True, "value": None, "reason": result.explanation or result.error or result.status}
    passed = result.value >= threshold if calibrated is not None and result.value is not None else bool(result.passed)
    return {**base, "passed": passed, "value": result.value, "reason": result.explanation or result.label}


def case_name(case: dict, words: int = 6) -> str:
    text = " ".join((case.get("input_text") or "").split()[:words])
    return f"{case['case_id']} {text}".strip()


def replay_case(
    case: dict,
    candidate: Candidate,
    *,
    judge=None,
    thresholds: dict[str, float] | None = None,
    blocking_judges: set[str] | None = None,
    blocking_rules: set[str] | None = None,
    client: httpx.Client | None = None,
) -> Outcome:
    """Call the candidate on one case and grade its answer. CandidateUnreachable propagates (stop the run)."""
    own = client is None
    client = client or httpx.Client()
    started = time.perf_counter()
    try:
        output, messages = call_candidate(case, candidate, client)
    except ValueError as exc:
        return Outcome(case_id=case["case_id"], name=case_name(case), passed=False, error=str(exc),
                       latency_ms=(time.perf_counter() - started) * 1000)  # fmt: skip
    finally:
        if own:
            client.close()
    latency = (time.perf_counter() - started) * 1000
    results = grade(case, output, messages, judge=judge, thresholds=thresholds, blocking_judges=blocking_judges,
                    blocking_rules=blocking_rules)  # fmt: skip
    passed = not any(r["blocking"] and r["passed"] is False for r in results)
    return Outcome(case_id=case["case_id"], name=case_name(case), passed=passed, output=output,
                   grader_results=results, latency_ms=latency)  # fmt: skip


# ---------------------------------------------------------------- JUnit


def junit_xml(suite_name: str, outcomes: list[Outcome], classname: str = "peekr.golden") -> str:
    """One testsuite for the run, one testcase per case; a failure names the failed graders and why."""
    failures = sum(1 for o in outcomes if not o.passed and not o.error)
    errors = sum(1 for o in outcomes if o.error)
    total_s = sum((o.latency_ms or 0.0) for o in outcomes) / 1000
    suite = ET.Element("testsuite", name=suite_name, tests=str(len(outcomes)), failures=str(failures),
                       errors=str(errors), skipped="0", time=f"{total_s:.3f}")  # fmt: skip
    for o in outcomes:
        case = ET.SubElement(suite, "testcase", classname=classname, name=o.name,
                             time=f"{(o.latency_ms or 0.0) / 1000:.3f}")  # fmt: skip
        if o.error:
            ET.SubElement(case, "error", message=f"{o.case_id}: {o.error}"[:500]).text = o.error
        elif not o.passed:
            failed = [g for g in o.grader_results if g.get("blocking") and g.get("passed") is False]
            message = f"{o.case_id}: failed graders: " + ", ".join(g["grader"] for g in failed)
            body = "\n".join(f"{g['grader']}: {g.get('reason', '')}" for g in failed)
            ET.SubElement(case, "failure", message=message[:500]).text = f"{body}\n\noutput:\n{o.output[:2000]}"
        advisory = [g for g in o.grader_results if not g.get("blocking") and g.get("passed") is False]
        if advisory:
            ET.SubElement(case, "system-out").text = "advisory (not a blocking evaluator): " + "; ".join(
                f"{g['grader']}: {g.get('reason', '')}" for g in advisory
            )
    ET.indent(suite)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"


def outcome_from_result(result) -> Outcome:
    """An Outcome from a stored RegressionResult (with its item)."""
    case = result.item.as_case()
    return Outcome(case_id=case["case_id"], name=case_name(case), passed=result.passed, output=result.output,
                   grader_results=result.grader_results, latency_ms=result.latency_ms, error=result.error)  # fmt: skip


def summary_table(outcomes: list[Outcome]) -> str:
    rows = [("case", "result", "graders")]
    for o in outcomes:
        verdict = "ERROR" if o.error else ("pass" if o.passed else "FAIL")
        graders = (
            o.error[:60]
            if o.error
            else ", ".join(
                f"{g['grader']}={'ok' if g.get('passed') else ('-' if g.get('passed') is None else 'FAIL')}"
                + ("" if g.get("blocking") else "(advisory)")
                for g in o.grader_results
            )
        )
        rows.append((o.name[:50], verdict, graders))
    widths = [max(len(r[i]) for r in rows) for i in range(2)]
    return "\n".join(f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]}" for r in rows) + "\n"
