"""A judge rule's projected cost, as arithmetic people can check (pure: plain numbers in, plain numbers out).

The article's example: "$0.01 per judgement x 100,000 requests a day = $30,000 a month per metric". Ours:

    judgements a day  = traces a day x (share of traces the rule selects) x (judged targets per selected trace)
                        summed over the rule's judge evaluators, where a trace is selected with probability 1
                        when one of the rule's triggers fires on it, else with the sample rate
    tokens a judgement = from the rule's past judgements when there are some (the ledger's real tokens),
                        else estimated: the judge prompt (the rubric's text, or the fixed overhead of a ragas
                        prompt) plus the judged inputs (question, answer, context; capped like the judge caps
                        them) at 4 characters a token, times the calls one judgement makes
    cost a judgement   = tokens x the judge model's price (project overrides first, then traces.pricing)
    a month            = cost a judgement x judgements a day x 30

The traffic figures come from evals.selectors.rule_traffic (a sample of the last 7 days' traces, scaled to
all of them); everything here is deterministic arithmetic on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DAYS_PER_MONTH = 30
CHARS_PER_TOKEN = 4
# Chat calls one judgement makes, and the tokens a ragas judge prompt adds to its inputs (instructions, schema).
CALLS_PER_JUDGEMENT = {"faithfulness": 2, "answer_relevancy": 3, "context_precision": 1, "rubric": 1}
PROMPT_OVERHEAD_TOKENS = 600
OUTPUT_TOKENS_PER_CALL = 400


@dataclass(frozen=True)
class TargetSize:
    """One judged target of one sampled trace: the characters the judge would read (already capped)."""

    evaluator: str
    chars: int
    documents: int = 0  # context precision makes one call per retrieved document


@dataclass(frozen=True)
class SampledTrace:
    """One trace of the sample: whether a trigger of the rule fires on it, and its judged targets."""

    triggered: bool
    targets: tuple[TargetSize, ...] = ()


@dataclass(frozen=True)
class Traffic:
    """The last days' traffic as the rule would see it: how many traces in all, and a sample of them read."""

    days: float
    traces: int  # every non-internal trace of the project in the window
    sample: tuple[SampledTrace, ...] = ()  # the newest traces of the window, read in full


@dataclass(frozen=True)
class PastJudgements:
    """What the rule's judgements really took, from the cost ledger (JudgeCall rows, reservations left out)."""

    judgements: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0


@dataclass
class Projection:
    judges: list[str]
    traces_per_day: float
    selected_share: float  # of the traces, the (expected) share the rule selects
    judgements_per_day: float
    input_tokens: float  # per judgement
    output_tokens: float
    tokens_from: str  # "past judgements" | "estimate" | ""
    price: tuple[float, float] | None  # USD per million tokens (input, output)
    cost_per_judgement: float | None
    daily: float | None
    monthly: float | None
    notes: list[str] = field(default_factory=list)


def judgement_tokens(evaluator: str, chars: int, *, documents: int = 0, prompt_tokens: int | None = None) -> tuple:
    """(input tokens, output tokens) one judgement of ``chars`` characters of inputs should take."""
    calls = CALLS_PER_JUDGEMENT.get(evaluator, 1)
    if evaluator == "context_precision":
        calls = max(1, documents)
    prompt = PROMPT_OVERHEAD_TOKENS if prompt_tokens is None else prompt_tokens
    return chars // CHARS_PER_TOKEN + prompt * calls, OUTPUT_TOKENS_PER_CALL * calls


def project_cost(
    *,
    traffic: Traffic,
    judges: list[str],
    sample_rate: float,
    price: tuple[float, float] | None,
    past: PastJudgements | None = None,
    prompt_tokens: dict[str, int] | None = None,
) -> Projection:
    """The monthly cost of a rule's judges at this traffic, sample rate and price (see the module docstring)."""
    rate = min(max(sample_rate, 0.0), 1.0)
    traces_per_day = traffic.traces / traffic.days if traffic.days > 0 else 0.0
    n = len(traffic.sample)
    notes: list[str] = []
    selected = judged = in_tok = out_tok = 0.0
    for trace in traffic.sample:
        p = 1.0 if trace.triggered else rate
        selected += p
        for t in trace.targets:
            if t.evaluator not in judges:
                continue
            i, o = judgement_tokens(
                t.evaluator, t.chars, documents=t.documents, prompt_tokens=(prompt_tokens or {}).get(t.evaluator)
            )
            judged += p
            in_tok += p * i
            out_tok += p * o
    share = selected / n if n else 0.0
    per_trace = judged / n if n else 0.0
    judgements_per_day = traces_per_day * per_trace
    if past is not None and past.judgements > 0:
        in_per, out_per = past.input_tokens / past.judgements, past.output_tokens / past.judgements
        tokens_from = "past judgements"
    elif judged:
        in_per, out_per, tokens_from = in_tok / judged, out_tok / judged, "estimate"
    else:
        in_per = out_per = 0.0
        tokens_from = ""
    if not judges:
        notes.append("no LLM judge in this rule: rule evaluators cost nothing")
    elif not traffic.traces:
        notes.append(f"no traces in the last {traffic.days:g} days to project from")
    elif not judged:
        notes.append("none of the sampled traces has a span these judges would score")
    if price is None:
        if past is not None and past.judgements > 0 and past.cost:
            per = past.cost / past.judgements  # the ledger priced them (a price known at the time)
        else:
            per = None
            if judges:
                notes.append("the judge model has no known price: set one in the project's price overrides")
    else:
        per = (in_per * price[0] + out_per * price[1]) / 1_000_000
    daily = per * judgements_per_day if per is not None else None
    return Projection(
        judges=list(judges),
        traces_per_day=traces_per_day,
        selected_share=share,
        judgements_per_day=judgements_per_day,
        input_tokens=in_per,
        output_tokens=out_per,
        tokens_from=tokens_from,
        price=price,
        cost_per_judgement=per,
        daily=daily,
        monthly=daily * DAYS_PER_MONTH if daily is not None else None,
        notes=notes,
    )


def usd(amount: float | None) -> str:
    """Dollars to two significant digits below $100 ($0.0042, $12, $3,000); "?" when unknown."""
    import math

    if amount is None:
        return "?"
    if amount <= 0:
        return "$0"
    digits = 1 - math.floor(math.log10(amount))
    rounded = round(amount, digits)
    text = f"{rounded:,.{max(digits, 0)}f}"
    if rounded < 1 and "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"${text}"


def count(n: float) -> str:
    """Judgements a day: whole numbers with separators from 10 up, two significant digits below (0.17, 2.9)."""
    return f"{n:,.0f}" if n >= 10 else f"{n:.2g}"


def arithmetic(p: Projection) -> str:
    """The projection as the article's sum: "$0.01 per judgement x 100,000 judgements a day = $30,000 a month"."""
    if p.monthly is None:
        return ""
    return (
        f"{usd(p.cost_per_judgement)} per judgement × {count(p.judgements_per_day)} judgements a day "
        f"= {usd(p.monthly)} a month"
    )
