"""The review pages' forms: a queue, a routing rule, adding traces, a review, a golden set.

Forms check what the fields alone can tell and turn the input into the services' keyword arguments; the
services check what needs the database (a taken name, an item already reviewed).
"""

from __future__ import annotations

import re
from typing import Any

from django import forms

from annotations.models import RoutingRule

SCORE_TYPES = ("boolean", "categorical", "numeric")
SCORE_CONFIG_HELP = (
    "One score per line: “correct: boolean”, “tone: categorical: friendly, neutral, rude” or “quality: numeric: 1-5”."
)
_RANGE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(?:-|–|\.\.|to)\s*(-?\d+(?:\.\d+)?)\s*$")


def _number(text: str) -> int | float:
    value = float(text)
    return int(value) if value.is_integer() else value


def parse_score_configs(text: str) -> list[dict[str, Any]]:
    """“quality: numeric: 1-5” lines -> [{"name": "quality", "type": "numeric", "min": 1, "max": 5}]."""
    configs: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(":", 2)]
        name = parts[0]
        kind = parts[1].lower() if len(parts) > 1 and parts[1] else "boolean"
        rest = parts[2] if len(parts) > 2 else ""
        if not name:
            raise forms.ValidationError(f"Line {number}: the score needs a name.")
        if kind not in SCORE_TYPES:
            raise forms.ValidationError(f"Line {number}: “{kind}” is not one of {', '.join(SCORE_TYPES)}.")
        if any(c["name"] == name for c in configs):
            raise forms.ValidationError(f"Line {number}: “{name}” is listed twice.")
        config: dict[str, Any] = {"name": name, "type": kind}
        if kind == "categorical":
            options = [o.strip() for o in rest.split(",") if o.strip()]
            if len(options) < 2:
                raise forms.ValidationError(f"Line {number}: a categorical score needs at least two options.")
            config["options"] = options
        elif kind == "numeric":
            found = _RANGE.match(rest or "1-5")
            if not found:
                raise forms.ValidationError(f"Line {number}: write the range as “1-5”.")
            low, high = _number(found.group(1)), _number(found.group(2))
            if low >= high:
                raise forms.ValidationError(f"Line {number}: the range's minimum must be below its maximum.")
            config.update(min=low, max=high)
        configs.append(config)
    return configs


def format_score_configs(configs: list[dict[str, Any]]) -> str:
    lines = []
    for c in configs or []:
        if c.get("type") == "categorical":
            lines.append(f"{c['name']}: categorical: {', '.join(c.get('options') or [])}")
        elif c.get("type") == "numeric":
            lines.append(f"{c['name']}: numeric: {c.get('min', 1)}-{c.get('max', 5)}")
        else:
            lines.append(f"{c['name']}: boolean")
    return "\n".join(lines)


class QueueForm(forms.Form):
    name = forms.CharField(max_length=200, widget=forms.TextInput(attrs={"placeholder": "e.g. Failing RAG answers"}))
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    score_configs = forms.CharField(
        required=False,
        label="Scores",
        help_text=SCORE_CONFIG_HELP,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "correct: boolean\nquality: numeric: 1-5"}),
    )
    reviews_per_item = forms.IntegerField(min_value=1, max_value=10, initial=1, label="Reviews per item")

    def clean_score_configs(self) -> list[dict[str, Any]]:
        return parse_score_configs(self.cleaned_data.get("score_configs") or "")


class TaxonomyForm(forms.Form):
    """The project's failure labels, one per line, in the order reviewers see them (digits 1-9 pick the first nine)."""

    labels = forms.CharField(
        label="One label per line",
        help_text="In order: the first nine get the keys 1-9 on the review page. "
        "Annotations keep the labels they were given.",
        widget=forms.Textarea(attrs={"rows": 7}),
    )

    def clean_labels(self) -> list[str]:
        labels = [line.strip() for line in self.cleaned_data["labels"].splitlines() if line.strip()]
        too_long = [label for label in labels if len(label) > 100]
        if too_long:
            raise forms.ValidationError(f"Labels are at most 100 characters: “{too_long[0][:40]}…” is longer.")
        return labels


RULE_KIND_LABELS = {
    RoutingRule.Kind.FAILING_RULE: "a rule evaluator failed",
    RoutingRule.Kind.SCORE_BELOW: "a score is below a threshold",
    RoutingRule.Kind.SCORE_BAND: "a score is borderline (within a band)",
    RoutingRule.Kind.THUMBS_DOWN: "a user gave a thumbs down",
    RoutingRule.Kind.ESCALATION: "the conversation was escalated",
    RoutingRule.Kind.FINDING: "a detector found a problem",
    RoutingRule.Kind.SAMPLE: "a random sample of normal traffic",
}


class RoutingRuleForm(forms.Form):
    kind = forms.ChoiceField(choices=[(k, f"When {label}") for k, label in RULE_KIND_LABELS.items()], label="Route")
    evaluator = forms.CharField(required=False, max_length=100, help_text="For score rules, e.g. faithfulness")
    threshold = forms.FloatField(required=False, help_text="Below this value")
    low = forms.FloatField(required=False, label="Band from")
    high = forms.FloatField(required=False, label="Band to")
    detector = forms.CharField(required=False, max_length=100, help_text="Any detector when empty")
    rate = forms.FloatField(required=False, min_value=0, max_value=100, label="Sample (%)")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        kind = data.get("kind")
        needs = {
            RoutingRule.Kind.SCORE_BELOW: ("evaluator", "threshold"),
            RoutingRule.Kind.SCORE_BAND: ("evaluator", "low", "high"),
            RoutingRule.Kind.SAMPLE: ("rate",),
        }.get(kind, ())
        for name in needs:
            if data.get(name) in (None, ""):
                self.add_error(name, "Required for this kind of rule.")
        low, high = data.get("low"), data.get("high")
        if kind == RoutingRule.Kind.SCORE_BAND and low is not None and high is not None and low > high:
            self.add_error("high", "The band's end must not be below its start.")
        return data

    def rule_params(self) -> dict[str, Any]:
        data, kind = self.cleaned_data, self.cleaned_data["kind"]
        params: dict[str, Any] = {}
        scored = (RoutingRule.Kind.SCORE_BELOW, RoutingRule.Kind.SCORE_BAND, RoutingRule.Kind.FAILING_RULE)
        if kind in scored and data.get("evaluator"):
            params["evaluator"] = data["evaluator"]
        if kind == RoutingRule.Kind.SCORE_BELOW:
            params["threshold"] = data["threshold"]
        if kind == RoutingRule.Kind.SCORE_BAND:
            params.update(low=data["low"], high=data["high"])
        if kind == RoutingRule.Kind.FINDING and data.get("detector"):
            params["detector"] = data["detector"]
        if kind == RoutingRule.Kind.SAMPLE:
            params["rate"] = data["rate"] / 100
        return params


def describe_rule(rule: RoutingRule) -> str:
    """“score faithfulness < 0.5”, “5% sample”: a routing rule in a few words."""
    p = rule.params or {}
    kind = rule.kind
    if kind == RoutingRule.Kind.SCORE_BELOW:
        return f"score {p.get('evaluator', '?')} < {p.get('threshold')}"
    if kind == RoutingRule.Kind.SCORE_BAND:
        return f"score {p.get('evaluator', '?')} in [{p.get('low')}, {p.get('high')}]"
    if kind == RoutingRule.Kind.FAILING_RULE:
        return "failing rule" + (f" {p['evaluator']}" if p.get("evaluator") else "")
    if kind == RoutingRule.Kind.FINDING:
        return "detector finding" + (f" {p['detector']}" if p.get("detector") else "")
    if kind == RoutingRule.Kind.SAMPLE:
        rate = float(p.get("rate", 0)) * 100
        return f"{rate:g}% random sample"
    return RULE_KIND_LABELS.get(kind, kind)


class AddToQueueForm(forms.Form):
    """From the trace list (several ids) or the trace page (one): the traces are the project's trace ids."""

    queue = forms.TypedChoiceField(coerce=int, choices=())
    trace_ids = forms.MultipleChoiceField(choices=(), required=True, error_messages={"required": "Pick traces first."})

    def __init__(self, *args, queues=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["queue"].choices = [(q.pk, q.name) for q in queues]
        # The ids are checked against the project by the view; here only their shape.
        raw = self.data.getlist("trace_ids") if hasattr(self.data, "getlist") else self.data.get("trace_ids", [])
        self.fields["trace_ids"].choices = [(t, t) for t in raw if re.fullmatch(r"[0-9a-fA-F]{1,32}", t or "")]


class GoldenSetForm(forms.Form):
    name = forms.CharField(max_length=200, widget=forms.TextInput(attrs={"placeholder": "e.g. Refund questions"}))
    description = forms.CharField(required=False, max_length=2000, widget=forms.TextInput())


class PromoteForm(forms.Form):
    golden_set = forms.TypedChoiceField(coerce=int, choices=())

    def __init__(self, *args, golden_sets=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["golden_set"].choices = [(g.pk, g.name) for g in golden_sets]


class ReviewForm(forms.Form):
    """One reviewer's annotation of one item: labels from the taxonomy, the queue's scores, comment, expected."""

    labels = forms.MultipleChoiceField(required=False, choices=(), widget=forms.CheckboxSelectMultiple)
    comment = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    expected_output = forms.CharField(
        required=False, strip=False, widget=forms.Textarea(attrs={"rows": 4, "placeholder": "What it should have said"})
    )
    promote = forms.BooleanField(required=False, label="Promote to golden set")
    golden_set = forms.TypedChoiceField(coerce=int, required=False, empty_value=None, choices=())

    def __init__(self, *args, taxonomy=(), score_configs=(), golden_sets=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.score_configs = list(score_configs or [])
        self.fields["labels"].choices = [(label, label) for label in taxonomy]
        self.fields["golden_set"].choices = [(g.pk, g.name) for g in golden_sets]
        for config in self.score_configs:
            self.fields[self.value_field(config)] = self._value_field(config)

    @staticmethod
    def value_field(config: dict) -> str:
        return "value__" + str(config.get("name", ""))

    @staticmethod
    def _value_field(config: dict) -> forms.Field:
        kind, label = config.get("type"), config.get("name", "")
        if kind == "categorical":
            options = [(o, o) for o in config.get("options") or []]
            return forms.ChoiceField(required=False, label=label, choices=[("", "—")] + options)
        if kind == "numeric":
            return forms.FloatField(
                required=False, label=label, min_value=config.get("min"), max_value=config.get("max"),
                widget=forms.NumberInput(attrs={"step": "any", "min": config.get("min"), "max": config.get("max")}),
            )  # fmt: skip
        return forms.TypedChoiceField(
            required=False,
            label=label,
            choices=[("yes", "yes"), ("no", "no")],
            coerce=lambda v: v == "yes",
            empty_value=None,
            widget=forms.RadioSelect,
        )

    def value_fields(self) -> list[tuple[dict, forms.BoundField]]:
        return [(c, self[self.value_field(c)]) for c in self.score_configs]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("promote") and not data.get("golden_set"):
            self.add_error("golden_set", "Pick the golden set to promote to.")
        return data

    def values(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for config in self.score_configs:
            value = self.cleaned_data.get(self.value_field(config))
            if value in (None, ""):
                continue
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            out[config["name"]] = value
        return out
