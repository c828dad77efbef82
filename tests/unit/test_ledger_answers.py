"""Classifying a provider's candidates into the answer the ledger keeps."""

from __future__ import annotations

from wdh_cli.ledger.answers import KEPT_CANDIDATES, Answer, answer_of
from wdh_cli.providers.base import Candidate


def _candidate(n: int, confidence: float) -> Candidate:
    return Candidate(f"C{n}", f"公司{n}", f"CODE{n}", "模糊匹配", confidence)


def test_a_match_keeps_its_company_and_the_candidates() -> None:
    answer = answer_of("eqc", "甲", [_candidate(1, 0.6), _candidate(2, 0.9)], 0.8)
    assert (answer.outcome, answer.company_id) == ("match", "C2")
    assert [c["company_id"] for c in answer.candidates] == ["C1", "C2"]
    accepted = answer.accepted()
    assert accepted is not None
    assert (accepted.company_id, accepted.official_name, accepted.unified_credit_code) == (
        "C2",
        "公司2",
        "CODE2",
    )


def test_no_candidates_is_no_match_and_low_ones_are_low_confidence() -> None:
    none = answer_of("eqc", "甲", [], 0.8)
    assert (none.outcome, none.company_id, none.candidates) == ("no_match", None, [])
    assert none.accepted() is None and none.reason(0.8) == "no match"
    low = answer_of("eqc", "甲", [_candidate(1, 0.6), _candidate(2, 0.7)], 0.8)
    assert (low.outcome, low.company_id) == ("low_confidence", None)
    assert low.reason(0.8) == "best confidence 0.70 below 0.80"


def test_at_most_five_candidates_and_the_accepted_one_is_always_kept() -> None:
    many = [_candidate(n, 0.5) for n in range(8)] + [_candidate(9, 0.95)]
    answer = answer_of("eqc", "甲", many, 0.8)
    assert len(answer.candidates) == KEPT_CANDIDATES
    assert answer.candidates[0]["company_id"] == "C9" and answer.company_id == "C9"


def test_a_match_without_its_candidate_still_names_the_company() -> None:
    answer = Answer("eqc", "甲", "match", "C7", [])
    accepted = answer.accepted()
    assert accepted is not None and accepted.company_id == "C7"
