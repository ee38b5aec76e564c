import pytest

from tests.traces.fixtures import normalized, one
from traces.pricing import cost_for, price_for


def test_cost_for_gpt_4o_mini():
    assert cost_for("gpt-4o-mini", 42, 17) == pytest.approx((42 * 0.15 + 17 * 0.60) / 1_000_000)


@pytest.mark.parametrize(
    "model, price",
    [
        ("gpt-4o", (2.50, 10.00)),
        ("gpt-4o-mini", (0.15, 0.60)),
        ("gpt-4o-mini-2024-07-18", (0.15, 0.60)),
        ("gpt-4o-2024-08-06", (2.50, 10.00)),
        ("gpt-4o-2024-05-13", (5.00, 15.00)),
        ("GPT-4o-Mini", (0.15, 0.60)),
        ("openai/gpt-4o-mini", (0.15, 0.60)),
        ("gpt-4.1", (2.00, 8.00)),
        ("gpt-4.1-mini-2025-04-14", (0.40, 1.60)),
        ("gpt-4.1-nano", (0.10, 0.40)),
        ("gpt-4", (30.00, 60.00)),
        ("gpt-4-turbo-2024-04-09", (10.00, 30.00)),
        ("gpt-3.5-turbo-0125", (0.50, 1.50)),
        ("o1", (15.00, 60.00)),
        ("o1-mini-2024-09-12", (1.10, 4.40)),
        ("o3-mini", (1.10, 4.40)),
        ("o4-mini", (1.10, 4.40)),
        ("text-embedding-3-small", (0.02, 0.0)),
        ("text-embedding-3-large", (0.13, 0.0)),
        ("claude-3-5-sonnet-20241022", (3.00, 15.00)),
        ("claude-3-7-sonnet-latest", (3.00, 15.00)),
        ("claude-sonnet-4-20250514", (3.00, 15.00)),
        ("claude-3-5-haiku-20241022", (0.80, 4.00)),
        ("claude-opus-4-1-20250805", (15.00, 75.00)),
        ("anthropic.claude-3-5-sonnet-20240620-v1:0", (3.00, 15.00)),
        ("us.anthropic.claude-3-7-sonnet-20250219-v1:0", (3.00, 15.00)),
        ("gemini-1.5-flash-002", (0.075, 0.30)),
        ("gemini-2.0-flash", (0.10, 0.40)),
        ("gemini-2.0-flash-lite", (0.075, 0.30)),
        ("models/gemini-2.5-pro", (1.25, 10.00)),
        ("gemini-2.5-flash-preview-05-20", (0.30, 2.50)),
        ("meta-llama/Llama-3.3-70B-Instruct", (0.59, 0.79)),
        ("meta.llama3-1-8b-instruct-v1:0", (0.05, 0.08)),
        ("mistral-large-latest", (2.00, 6.00)),
        ("mistral-small-2503", (0.10, 0.30)),
    ],
)
def test_the_most_specific_pattern_prices_the_model(model, price):
    assert price_for(model) == price


@pytest.mark.parametrize("model", ["my-finetune", "", "unknown", "gpt"])
def test_an_unknown_model_has_no_cost(model):
    assert cost_for(model, 100, 100) is None


def test_no_tokens_no_cost():
    assert cost_for("gpt-4o", None, None) is None
    assert cost_for("text-embedding-3-small", 1_000_000, None) == pytest.approx(0.02)


def test_project_overrides_take_precedence_with_the_same_specificity_rule():
    overrides = {"gpt-4o*": {"input": 1.0, "output": 2.0}, "gpt-4o-mini*": {"input": 0.1, "output": 0.2}}

    assert cost_for("gpt-4o-mini-2024-07-18", 1_000_000, 1_000_000, overrides) == pytest.approx(0.3)
    assert cost_for("gpt-4o", 1_000_000, 1_000_000, overrides) == pytest.approx(3.0)
    assert cost_for("claude-3-haiku-20240307", 1_000_000, 0, overrides) == pytest.approx(0.25)  # built-in
    assert cost_for("my-finetune", 1_000_000, 1_000_000, {"my-finetune": {"input": 5, "output": 5}}) == 10.0


def test_a_malformed_override_price_counts_as_zero():
    assert cost_for("x-model", 1_000_000, 1_000_000, {"x-*": {"input": "abc", "output": -3}}) == 0.0


def test_normalize_prices_with_the_project_overrides():
    pairs = normalized("openinference__rag", prices={"gpt-4o-mini": {"input": 10, "output": 20}})
    llm = one(pairs, "ChatCompletion")
    assert llm.cost == pytest.approx((42 * 10 + 17 * 20) / 1_000_000)
