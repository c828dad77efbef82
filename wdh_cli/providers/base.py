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
    """A lookup failed. A drain retries a `transient` one later; any other fails the name."""

    transient = False


class TransientProviderError(ProviderError):
    """Timeouts, 429 and 5xx that outlasted the retries: retry the name later."""

    transient = True


class BadResponseError(TransientProviderError):
    """A 200 whose body is not what the API promises: a broken upstream, likely passing."""


class RefusedLookupError(ProviderError):
    """The provider refused this request for good (an unexpected 4xx): asking again is useless."""


class ProviderAuthError(ProviderError):
    """The provider refused our credentials: it is disabled for the rest of the run."""


class Provider(Protocol):
    """Anything that turns a raw company name into candidates, best first."""

    calls: int  # lookups that reached the provider (retries of one lookup count once)

    @property
    def name(self) -> str:
        """The provider's name (a ProviderName): the source of what it teaches."""
        ...

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
