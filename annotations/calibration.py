"""How well an automated evaluator agrees with human reviewers: pure functions over (automated, human) pairs.

A pair is two verdicts on one reviewed item, True meaning "passed" (no failure of that kind). Figures:

- percent agreement p_o: the share of pairs where both say the same;
- Cohen's kappa: (p_o - p_e) / (1 - p_e), where p_e is the agreement expected by chance from each side's
  own pass rate; 1.0 when both sides agree on every pair and only one class occurs (p_e = 1);
- the confusion matrix [[both fail, auto fails / human passes], [auto passes / human fails, both pass]],
  rows the evaluator's verdict, columns the human's, index 0 = fail, 1 = pass;
- kappa is reported only from KAPPA_MIN_ITEMS pairs on: below that it is "not enough items". With two items
  a coin-flip evaluator agrees with the reviewers on both a quarter of the time and shows kappa 1.00; with ten,
  about once in a thousand (0.5**10), and the chance-correction has both classes to work with;
- gate eligibility: an evaluator may block a release only with at least GATE_MIN_ITEMS labelled items and
  at least GATE_MIN_AGREEMENT agreement.

``best_threshold`` picks the score threshold that agrees best with the humans, for judges with values.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field

GATE_MIN_ITEMS = 50
KAPPA_MIN_ITEMS = 10  # see the module docstring: fewer pairs give a kappa that means nothing
GATE_MIN_AGREEMENT = 0.85


@dataclass
class Calibration:
    n: int
    agreement: float | None  # None without pairs
    kappa: float | None  # None without pairs, and below KAPPA_MIN_ITEMS (see enough_items)
    confusion: list[list[int]] = field(default_factory=lambda: [[0, 0], [0, 0]])
    gate_eligible: bool = False
    status: str = ""  # one line the UI shows: where this evaluator stands
    threshold: float | None = None  # the calibrated threshold, for evaluators with values
    enough_items: bool = False  # n >= KAPPA_MIN_ITEMS: kappa is shown

    def as_dict(self) -> dict:
        return asdict(self)


def confusion_matrix(pairs: Iterable[tuple[bool, bool]]) -> list[list[int]]:
    matrix = [[0, 0], [0, 0]]
    for auto, human in pairs:
        matrix[int(bool(auto))][int(bool(human))] += 1
    return matrix


def percent_agreement(matrix: Sequence[Sequence[int]]) -> float | None:
    n = sum(map(sum, matrix))
    return (matrix[0][0] + matrix[1][1]) / n if n else None


def cohens_kappa(matrix: Sequence[Sequence[int]]) -> float | None:
    n = sum(map(sum, matrix))
    if not n:
        return None
    p_o = (matrix[0][0] + matrix[1][1]) / n
    auto_fail = (matrix[0][0] + matrix[0][1]) / n
    human_fail = (matrix[0][0] + matrix[1][0]) / n
    p_e = auto_fail * human_fail + (1 - auto_fail) * (1 - human_fail)
    if p_e >= 1.0:  # one class on both sides: perfect agreement, nothing left to chance-correct
        return 1.0
    return (p_o - p_e) / (1 - p_e)


def gate_eligible(n: int, agreement: float | None) -> bool:
    # Compared with a small tolerance: 0.85 computed as 17/20 must not fall just under 0.85.
    return n >= GATE_MIN_ITEMS and agreement is not None and agreement >= GATE_MIN_AGREEMENT - 1e-12


def gate_status(n: int, agreement: float | None) -> str:
    if n == 0:
        return "no reviewed items yet"
    missing = []
    if n < GATE_MIN_ITEMS:
        missing.append(f"{GATE_MIN_ITEMS - n} more labelled item(s)")
    if agreement is None or agreement < GATE_MIN_AGREEMENT - 1e-12:
        missing.append(f"agreement {agreement:.1%} < {GATE_MIN_AGREEMENT:.0%}")
    if not missing:
        return f"usable as a blocking gate ({n} items, {agreement:.1%} agreement)"
    return "advisory only: needs " + " and ".join(missing)


def calibrate(pairs: Sequence[tuple[bool, bool]], values: Sequence[tuple[float, bool]] = ()) -> Calibration:
    """Every figure for one evaluator. ``values`` are (score value, human verdict) for judges with values."""
    matrix = confusion_matrix(pairs)
    n = len(pairs)
    agreement = percent_agreement(matrix)
    return Calibration(
        n=n,
        agreement=agreement,
        kappa=cohens_kappa(matrix) if n >= KAPPA_MIN_ITEMS else None,
        enough_items=n >= KAPPA_MIN_ITEMS,
        confusion=matrix,
        gate_eligible=gate_eligible(n, agreement),
        status=gate_status(n, agreement),
        threshold=best_threshold(values) if values else None,
    )


def best_threshold(values: Sequence[tuple[float, bool]]) -> float | None:
    """The threshold t (value >= t passes) that agrees with the most human verdicts; ties go to the lowest t.

    Candidates are the observed values (and one above the highest, "everything fails"), so the answer is
    always a value the evaluator actually produced.
    """
    if not values:
        return None
    candidates = sorted({v for v, _ in values})
    candidates.append(candidates[-1] + 1e-9)
    best, best_hits = None, -1
    for t in candidates:
        hits = sum(1 for v, human in values if (v >= t) == bool(human))
        if hits > best_hits:
            best, best_hits = t, hits
    return best
