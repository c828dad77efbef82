"""What a provider answered for one name, as the ledger keeps it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wdh_cli.providers.base import Candidate, best_accepted

KEPT_CANDIDATES = 5  # the best few are enough for a person to choose from

MATCH = "match"
NO_MATCH = "no_match"
LOW_CONFIDENCE = "low_confidence"


@dataclass(frozen=True)
class Answer:
    """A definitive answer: a match, no match, or candidates below the confidence bar."""

    provider: str
    normalized_name: str
    outcome: str
    company_id: str | None = None
    candidates: list[dict[str, Any]] = field(default_factory=list)  # best first

    def accepted(self) -> Candidate | None:
        """The matched candidate (a match's company, with its name and credit code)."""
        if self.outcome != MATCH:
            return None
        for item in self.candidates:
            if item.get("company_id") == self.company_id:
                return _candidate(item)
        assert self.company_id is not None  # the table's CHECK: a match names its company
        return Candidate(self.company_id, "", None, "", 1.0)

    def reason(self, min_confidence: float) -> str:
        """Why a request fails on this answer (its last_error)."""
        if self.outcome == NO_MATCH:
            return "no match"
        best = max((float(c.get("confidence", 0)) for c in self.candidates), default=0.0)
        return f"best confidence {best:.2f} below {min_confidence:.2f}"


def answer_of(
    provider: str, key: str, candidates: list[Candidate], min_confidence: float
) -> Answer:
    """Classify a provider's candidates for a normalized name."""
    kept = [_item(candidate) for candidate in candidates[:KEPT_CANDIDATES]]
    accepted = best_accepted(candidates, min_confidence)
    if accepted is not None:
        if accepted not in candidates[:KEPT_CANDIDATES]:
            kept = [_item(accepted), *kept[: KEPT_CANDIDATES - 1]]
        return Answer(provider, key, MATCH, accepted.company_id, kept)
    return Answer(provider, key, LOW_CONFIDENCE if candidates else NO_MATCH, None, kept)


def _item(candidate: Candidate) -> dict[str, Any]:
    return {
        "company_id": candidate.company_id,
        "official_name": candidate.official_name,
        "unified_credit_code": candidate.unified_credit_code,
        "match_type": candidate.match_type,
        "confidence": candidate.confidence,
    }


def _candidate(item: dict[str, Any]) -> Candidate:
    return Candidate(
        company_id=str(item["company_id"]),
        official_name=str(item.get("official_name") or ""),
        unified_credit_code=item.get("unified_credit_code") or None,
        match_type=str(item.get("match_type") or ""),
        confidence=float(item.get("confidence") or 0.0),
    )
