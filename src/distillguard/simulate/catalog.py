"""Names of the provider's models in the simulated world."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ModelNames"]


@dataclass(frozen=True, slots=True)
class ModelNames:
    """Chat families (flagship, small, reasoning), the release, embeddings, prediction."""

    flagship: str = "atlas-2"
    mini: str = "atlas-2-mini"
    reasoning: str = "atlas-r1"
    new: str = "atlas-3"
    embedding: str = "atlas-embed-1"
    predict: str = "risk-scorer-v3"

    @property
    def all(self) -> tuple[str, ...]:
        """In the order render indexes them: families 0-2, the release 3, embeddings 4,
        prediction 5."""
        return (self.flagship, self.mini, self.reasoning, self.new, self.embedding, self.predict)
