"""The evaluation rule form: the UI's fields, turned into the keyword arguments of eval_rule_create/update.

The form checks what a field alone can tell (an evaluator that exists, a rate between 0 and 100 %, a rubric
with criteria and a scale); the service checks what needs the project (self-judging, a taken name) and
raises RuleInvalid with a message the view shows on the form.
"""

from __future__ import annotations

from typing import Any

from django import forms

from evals.models import TRIGGERS, EvalRule
from evals.services import JUDGE_EVALUATORS, evaluator_names
from traces.normalize.types import SPAN_KINDS

TRIGGER_LABELS = {
    "error": "a span failed",
    "timeout": "a span timed out",
    "tool_failure": "a tool call failed",
    "thumbs_down": "a user gave a thumbs down",
    "max_turns": "too many turns",
    "low_confidence": "a score under 0.5 is already on the trace",
    "failing_rule": "a rule evaluator failed",
    "signal": "a user signal the routing policy sends to the judge",
}


def _comma_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _evaluator_choices() -> list[tuple[str, str]]:
    return [(name, f"{name} (LLM judge)" if name in JUDGE_EVALUATORS else name) for name in evaluator_names()]


class EvalRuleForm(forms.Form):
    name = forms.CharField(max_length=200)
    target = forms.ChoiceField(
        choices=EvalRule.Target.choices,
        initial=EvalRule.Target.SPAN,
        widget=forms.RadioSelect,
        help_text="Span: each matching span is evaluated. Trace: the whole trace once.",
    )
    filter_kind = forms.ChoiceField(required=False, choices=[("", "Any kind")] + [(k, k) for k in SPAN_KINDS])
    filter_name = forms.CharField(required=False, max_length=200, help_text="A glob, e.g. chat*")
    filter_model = forms.CharField(required=False, max_length=200, help_text="A glob, e.g. gpt-4o*")
    filter_service = forms.CharField(required=False, max_length=200)
    filter_tags = forms.CharField(required=False, max_length=500, help_text="Comma-separated; any one matches")
    # Choices are filled in __init__: evaluator modules register themselves when imported.
    evaluators = forms.MultipleChoiceField(
        choices=(),
        widget=forms.CheckboxSelectMultiple,
        help_text="Rule evaluators run in microseconds on every match; LLM judges call the judge model and cost money.",
    )
    sample_rate = forms.FloatField(
        min_value=0,
        max_value=100,
        initial=100,
        label="Sample rate (%)",
        widget=forms.NumberInput(attrs={"step": "any"}),
        help_text="Share of traces evaluated; the same traces stay sampled when you raise it.",
    )
    triggers = forms.MultipleChoiceField(
        required=False,
        choices=[(t, f"{t}: {TRIGGER_LABELS.get(t, t)}") for t in TRIGGERS],
        widget=forms.CheckboxSelectMultiple,
        help_text="Always evaluate a trace when one of these fires, whatever the sample rate.",
    )
    judge_model = forms.CharField(required=False, max_length=200, help_text="Empty: PEEKR_JUDGE_MODEL")
    judge_connection = forms.TypedChoiceField(
        required=False,
        coerce=int,
        empty_value=None,
        label="Judge endpoint",
        help_text="The operator's judge (PEEKR_JUDGE_BASE_URL), or one of the project's judge connections.",
    )
    daily_cost_cap = forms.FloatField(
        required=False,
        min_value=0,
        label="Daily cost cap (USD)",
        widget=forms.NumberInput(attrs={"step": "any"}),
        help_text="Judge spend per UTC day; past it, judge evaluations are skipped. Empty: no cap.",
    )
    rubric_criteria = forms.CharField(
        required=False,
        label="Rubric criteria",
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="For the rubric judge: what a good answer does.",
    )
    rubric_min = forms.IntegerField(required=False, initial=1, label="Scale min")
    rubric_max = forms.IntegerField(required=False, initial=5, label="Scale max")
    rubric_pass_threshold = forms.FloatField(
        required=False, label="Pass at or above", widget=forms.NumberInput(attrs={"step": "any"})
    )
    allowed_tools = forms.CharField(
        required=False, max_length=2000, help_text="Comma-separated; for the tool_allowed evaluator"
    )
    max_turns = forms.IntegerField(required=False, min_value=1, help_text="For the max_turns evaluator")

    def __init__(self, *args: Any, connections: list | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.fields["evaluators"].choices = _evaluator_choices()
        self.fields["judge_connection"].choices = [("", "Operator's judge")] + [
            (c.pk, f"{c.name} ({c.base_url})") for c in connections or []
        ]

    @classmethod
    def for_rule(cls, rule: EvalRule, *args: Any, **kwargs: Any) -> EvalRuleForm:
        """The form filled in with a rule's current settings."""
        f, config = rule.filter or {}, rule.config or {}
        rubric = config.get("rubric") or {}
        scale = rubric.get("scale") or {}
        initial = {
            "name": rule.name,
            "target": rule.target,
            "filter_kind": f.get("kind", ""),
            "filter_name": f.get("name", ""),
            "filter_model": f.get("model", ""),
            "filter_service": f.get("service", ""),
            "filter_tags": ", ".join(f.get("tags") or []),
            "evaluators": list(rule.evaluators),
            "sample_rate": round(rule.sample_rate * 100, 6),
            "triggers": list(rule.triggers),
            "judge_model": rule.judge_model,
            "judge_connection": rule.judge_connection_id or "",
            "daily_cost_cap": rule.daily_cost_cap,
            "rubric_criteria": rubric.get("criteria", ""),
            "rubric_min": scale.get("min", 1),
            "rubric_max": scale.get("max", 5),
            "rubric_pass_threshold": rubric.get("pass_threshold"),
            "allowed_tools": ", ".join(config.get("allowed_tools") or []),
            "max_turns": config.get("max_turns"),
        }
        return cls(*args, initial=initial, **kwargs)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if "rubric" in (data.get("evaluators") or []):
            if not (data.get("rubric_criteria") or "").strip():
                self.add_error("rubric_criteria", "The rubric judge needs criteria.")
            low, high = data.get("rubric_min"), data.get("rubric_max")
            if low is None or high is None or low >= high:
                self.add_error("rubric_max", "The scale needs a min below its max.")
            else:
                threshold = data.get("rubric_pass_threshold")
                if threshold is not None and not low <= threshold <= high:
                    self.add_error(
                        "rubric_pass_threshold", f"The pass threshold must lie on the scale ({low}..{high})."
                    )
        return data

    def rule_fields(self, config: dict | None = None) -> dict[str, Any]:
        """Keyword arguments for eval_rule_create/update; keys of config the form has no field for are kept."""
        data = self.cleaned_data
        rule_filter: dict[str, Any] = {
            key: data[f"filter_{key}"].strip()
            for key in ("kind", "name", "model", "service")
            if data[f"filter_{key}"].strip()
        }
        if tags := _comma_list(data["filter_tags"]):
            rule_filter["tags"] = tags
        config = dict(config or {})
        for key in ("rubric", "allowed_tools", "max_turns"):
            config.pop(key, None)
        if (data.get("rubric_criteria") or "").strip():
            config["rubric"] = {
                "criteria": data["rubric_criteria"].strip(),
                "scale": {
                    "min": 1 if data.get("rubric_min") is None else data["rubric_min"],
                    "max": 5 if data.get("rubric_max") is None else data["rubric_max"],
                },
                "pass_threshold": data.get("rubric_pass_threshold"),
            }
        if tools := _comma_list(data["allowed_tools"]):
            config["allowed_tools"] = tools
        if data.get("max_turns"):
            config["max_turns"] = data["max_turns"]
        return {
            "name": data["name"].strip(),
            "target": data["target"],
            "filter": rule_filter,
            "evaluators": list(data["evaluators"]),
            "sample_rate": data["sample_rate"] / 100,
            "triggers": list(data["triggers"]),
            "judge_model": data["judge_model"].strip(),
            "judge_connection_id": data.get("judge_connection"),
            "daily_cost_cap": data.get("daily_cost_cap"),
            "config": config,
        }


class JudgeConnectionForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="How rules refer to it, e.g. “our vLLM”.")
    base_url = forms.CharField(
        max_length=500,
        label="Base URL",
        help_text="An OpenAI-compatible endpoint, e.g. https://llm.example.com/v1. Public addresses only.",
    )
    api_key = forms.CharField(
        required=False,
        max_length=2000,
        label="API key",
        widget=forms.PasswordInput(render_value=False),
        help_text="Sent to this URL only; stored encrypted and never shown again.",
    )
