import json

from evals.evaluators.rules.citations import find_citations
from tests.evals import evaluate, llm_span, trace

DOCS = [
    {
        "id": "doc-17",
        "content": "Annual plans can be refunded in full within 30 days of purchase. See https://status.acme.com/billing.",
        "score": 0.91,
        "metadata": {"title": "Refund policy", "url": "https://docs.acme.com/billing/refunds/"},
    },
    {
        "id": "doc-4",
        "content": "Refunds are issued to the original payment method within 5-7 business days.",
        "score": 0.84,
        "metadata": {"source": "kb/payments/refund-timing.md"},
    },
    {
        "id": "doc-31",
        "content": "Monthly plans are not refundable but can be cancelled at any time.",
        "score": 0.62,
        "metadata": '{"not": "parsed"}',
    },
]


def answer(text, **kw):
    return llm_span(text, documents=DOCS, **kw)


def test_it_passes_when_every_citation_is_a_retrieved_document():
    text = (
        "You can get a full refund within 30 days [doc-17], paid back to your card in 5-7 business days [2]. "
        "Monthly plans are not refundable [3] (source: refund-timing). Details: "
        "[Refund policy](https://docs.acme.com/billing/refunds#annual) and https://status.acme.com/billing."
    )
    result = evaluate("citation_integrity", answer(text))
    assert (result.passed, result.value, result.label) == (True, 1.0, "valid")
    refs = [(c["kind"], c["ref"]) for c in result.details["citations"]]
    assert refs == [
        ("id", "doc-17"),
        ("index", "2"),
        ("index", "3"),
        ("id", "refund-timing"),
        ("url", "https://docs.acme.com/billing/refunds#annual"),
        ("url", "https://status.acme.com/billing"),
    ]


def test_it_fails_on_a_hallucinated_id_index_and_url():
    text = (
        "Annual plans are refundable within 30 days [doc-17][doc-99]. Enterprise plans get 60 days [5]. "
        "See https://acme.com/enterprise-refunds for the form."
    )
    result = evaluate("citation_integrity", answer(text))
    assert (result.passed, result.label) == (False, "broken")
    assert result.value == 1 / 4
    assert result.details["broken"] == ["doc-99", "5", "https://acme.com/enterprise-refunds"]
    assert result.explanation.startswith("3 of 4 citations point to no retrieved document: doc-99, [5], https://")


def test_urls_compare_without_case_fragment_trailing_slash_default_port_or_tracking_query():
    docs = [{"id": "a", "content": "", "metadata": {"url": "https://Docs.Acme.com/Guides/SSO"}}]
    for cited in (
        "https://docs.acme.com/guides/sso/",
        "https://docs.acme.com:443/Guides/SSO#okta",
        "https://docs.acme.com/Guides/SSO?utm_source=chatgpt.com",
    ):
        assert evaluate("citation_integrity", llm_span(f"See {cited}.", documents=docs)).passed, cited
    assert not evaluate("citation_integrity", llm_span("See https://docs.acme.com/Guides/SAML.", documents=docs)).passed


def test_index_lists_and_ranges_are_checked_one_by_one():
    assert evaluate("citation_integrity", answer("Refunds take a week [1, 3].")).passed is True
    result = evaluate("citation_integrity", answer("Refunds take a week [2-4]."))
    assert result.details["broken"] == ["4"]


def test_it_uses_the_retriever_spans_before_the_span_in_the_trace():
    retriever = llm_span("", kind="retriever", documents=DOCS)
    span = llm_span("Refunds take 5-7 business days [doc-4].")
    later = llm_span("", kind="retriever", documents=[{"id": "doc-99", "content": "x"}])
    span.spans = [retriever, span, later]
    assert evaluate("citation_integrity", span).passed is True
    span.output_text = "Refunds take 5-7 business days [doc-99]."
    assert evaluate("citation_integrity", span).passed is False
    assert trace(retriever, span).spans[0].documents == DOCS


def test_prose_brackets_code_and_footnotes_are_not_citations():
    text = (
        "Tick [x] to confirm [sic]. [NOTE] This is [citation needed]. In code, `items[0]` and\n"
        "```python\nrefunds[2024]\n```\nThe interval [0, 1] and the date [2024-01-15] mean nothing here.[^1]"
    )
    assert find_citations(text) == []


def test_it_does_not_apply_without_citations_or_without_documents():
    assert evaluate("citation_integrity", answer("Annual plans can be refunded within 30 days.")) is None
    assert evaluate("citation_integrity", llm_span("Annual plans are refundable [doc-17].")) is None
    assert evaluate("citation_integrity", answer("[doc-17]", kind="retriever")) is None
    assert evaluate("citation_integrity", answer(None)) is None


def test_a_json_answer_is_read_by_its_citation_fields_not_its_arrays():
    output = {
        "answer": "Annual plans are refundable within 30 days [doc-17].",
        "order_ids": ["A-10492", "A-10517"],
        "sources": ["doc-4", {"id": "doc-31"}, "https://docs.acme.com/billing/refunds", 2],
    }
    result = evaluate("citation_integrity", answer(json.dumps(output)))
    assert result.passed is True
    assert [c["ref"] for c in result.details["citations"]] == [
        "doc-17",
        "doc-4",
        "doc-31",
        "https://docs.acme.com/billing/refunds",
        "2",
    ]
    output["citations"] = ["doc-404"]
    assert evaluate("citation_integrity", answer(json.dumps(output))).details["broken"] == ["doc-404"]


def test_a_json_answer_without_citation_fields_does_not_apply():
    assert evaluate("citation_integrity", answer(json.dumps({"order_ids": ["A-10492"], "total": 12}))) is None
