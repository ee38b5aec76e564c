import pytest

from annotations import calibration, selectors
from annotations.calibration import calibrate, cohens_kappa, confusion_matrix, gate_eligible, percent_agreement
from evals.evaluators.types import EvalResult
from evals.services import score_record
from tests.annotations.helpers import make_queue, reviewed_item
from tests.base import make_trace, make_user
from traces.models import Membership, Role, Trace


def pairs_for(matrix):
    """(auto, human) pairs giving this confusion matrix (rows: auto fail/pass, columns: human fail/pass)."""
    out = []
    for auto in (0, 1):
        for human in (0, 1):
            out += [(bool(auto), bool(human))] * matrix[auto][human]
    return out


def test_it_matches_the_hand_computed_balanced_example():
    # 10 pairs, [[4, 1], [1, 4]]: p_o = 8/10; each side fails half the time, p_e = 0.5; kappa = 0.3/0.5.
    result = calibrate(pairs_for([[4, 1], [1, 4]]))
    assert result.n == 10
    assert result.confusion == [[4, 1], [1, 4]]
    assert result.agreement == pytest.approx(0.8)
    assert result.kappa == pytest.approx(0.6)


def test_it_matches_a_hand_computed_example_with_unbalanced_classes():
    # 20 pairs, [[2, 3], [1, 14]]: p_o = 16/20 = 0.8; evaluator fails 5/20, humans 3/20;
    # p_e = 0.25*0.15 + 0.75*0.85 = 0.675; kappa = (0.8 - 0.675) / (1 - 0.675) = 0.125 / 0.325.
    pairs = pairs_for([[2, 3], [1, 14]])
    assert confusion_matrix(pairs) == [[2, 3], [1, 14]]
    assert percent_agreement(confusion_matrix(pairs)) == pytest.approx(0.8)
    assert cohens_kappa(confusion_matrix(pairs)) == pytest.approx(0.125 / 0.325)
    assert cohens_kappa(confusion_matrix(pairs)) == pytest.approx(0.384615, abs=1e-6)


def test_kappa_is_zero_at_chance_and_one_when_both_sides_never_disagree():
    assert cohens_kappa([[1, 1], [1, 1]]) == pytest.approx(0.0)
    assert cohens_kappa([[0, 0], [0, 7]]) == 1.0  # one class on both sides
    assert cohens_kappa([[0, 0], [0, 0]]) is None


def test_gate_needs_fifty_items_and_eighty_five_percent_agreement():
    assert not gate_eligible(49, 1.0)
    assert gate_eligible(50, 0.85)
    assert not gate_eligible(50, 0.849)
    assert calibrate([(True, True)] * 50).gate_eligible
    assert not calibrate([(True, True)] * 49).gate_eligible
    # 85 of 100 agree: exactly 85 % passes; 849 of 1000 (84.9 %) does not.
    assert calibrate([(True, True)] * 85 + [(True, False)] * 15).gate_eligible
    assert not calibrate([(True, True)] * 849 + [(True, False)] * 151).gate_eligible
    assert "1 more labelled item" in calibrate([(True, True)] * 49).status
    assert "84.9%" in calibrate([(True, True)] * 849 + [(True, False)] * 151).status


def test_best_threshold_is_the_value_that_agrees_most_with_the_humans():
    values = [(0.2, False), (0.4, False), (0.6, True), (0.9, True), (0.5, False)]
    assert calibration.best_threshold(values) == 0.6


@pytest.mark.django_db
def test_calibration_pairs_each_evaluator_with_the_human_verdict(project, owner):
    queue = make_queue(project, score_configs=[{"name": "json_valid", "type": "boolean"}])
    # pii: evaluator verdicts vs the "PII leak" label -> [[1 both fail, 1 auto fails / human passes], [1, 1]]
    cases = [(False, ["PII leak"]), (False, []), (True, ["PII leak"]), (True, [])]
    for auto, labels in cases:
        make_trace(project, n_llm=1)
        trace = Trace.objects.filter(project=project).order_by("-pk").first()
        score_record(trace=trace, span=None, evaluator="pii", result=EvalResult(value=float(auto), passed=auto))
        # json_valid: the boolean score config named like it wins over the labels (no "bad format" here)
        score_record(trace=trace, span=None, evaluator="json_valid", result=EvalResult(value=1.0, passed=True))
        reviewed_item(queue, trace, owner, labels=labels, values={"json_valid": auto})
    report = {row["evaluator"]: row for row in selectors.calibration_report(project=project)}
    assert report["pii"]["confusion"] == [[1, 1], [1, 1]]
    assert report["pii"]["n"] == 4 and report["pii"]["agreement"] == pytest.approx(0.5)
    assert report["json_valid"]["confusion"] == [[0, 0], [2, 2]]
    assert report["faithfulness"]["n"] == 0 and report["faithfulness"]["status"] == "no reviewed items yet"
    assert not report["pii"]["gate_eligible"]


@pytest.mark.django_db
def test_two_reviewers_disagreeing_count_as_a_failure(project, owner):
    teammate = make_user("teammate")
    Membership.objects.create(project=project, user=teammate, role=Role.REVIEWER)
    queue = make_queue(project, reviews_per_item=2)
    make_trace(project, n_llm=1)
    trace = Trace.objects.get(project=project)
    score_record(trace=trace, span=None, evaluator="pii", result=EvalResult(value=1.0, passed=True))
    item = reviewed_item(queue, trace, owner, labels=["PII leak"])
    from annotations.services import annotation_submit

    annotation_submit(item=item, reviewer=teammate, labels=[])
    pairs = selectors.calibration_pairs(project=project)["pii"]["pairs"]
    assert pairs == [(True, False)]


def test_kappa_needs_a_minimum_sample_and_says_so_below_it():
    from annotations.calibration import KAPPA_MIN_ITEMS

    few = calibrate([(True, True), (False, False)])  # two agreeing items: kappa would be 1.00
    assert few.kappa is None and few.enough_items is False
    assert few.agreement == 1.0 and few.n == 2
    enough = calibrate([(True, True), (False, False)] * (KAPPA_MIN_ITEMS // 2))
    assert enough.enough_items is True and enough.kappa == pytest.approx(1.0)
