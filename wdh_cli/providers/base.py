"""The provider interface: search a name, get candidates with a confidence."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from wdh_cli.errors import WdhError


@dataclass(frozen=True)
class Candidate:
    company_id: str
    official_name: str
    unified_credit_code: str | None
    match_type: str
    confidence: float


class ProviderError(WdhError):
    """A lookup failed; `transient` errors may succeed when retried later."""

    transient = False


class TransientProviderError(ProviderError):
    """Timeouts, 429 and 5xx that outlasted the retries: retry the name later."""

    transient = True


class BadResponseError(ProviderError):
    """The provider answered, but not with what its contract says."""


class ProviderAuthError(ProviderError):
    """The provider refused our credentials: it is disabled for the rest of the run."""


class Provider(Protocol):
    """Anything that turns a raw company name into candidates, best first."""

    name: str
    calls: int  # lookups that reached the provider (retries of one lookup count once)

    def search(self, raw_name: str) -> list[Candidate]:
        """Candidates for the name; [] for no match; raises ProviderError on failure."""
        ...

    def close(self) -> None: ...


def best_accepted(candidates: list[Candidate], min_confidence: float) -> Candidate | None:
    """The first candidate whose confidence reaches the threshold."""
    for candidate in candidates:
        if candidate.confidence >= min_confidence:
            return candidate
    return None


class NoProvider:
    """The `none` provider: never asks anyone, never finds anything."""

    name = "none"
    calls = 0

    def search(self, raw_name: str) -> list[Candidate]:
        return []

    def close(self) -> None:
        pass
