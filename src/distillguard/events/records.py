"""The interchange format of ``shared/spec/api-event-log.md`` as typed records.

Field names match the spec exactly; renaming one is a breaking change. These pydantic models are
for boundaries (one request in the gateway, one rejected row, a test fixture). Bulk paths never
build one object per row: they go through Arrow/DuckDB with :mod:`distillguard.events.schema`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "AccountRecord",
    "Action",
    "Endpoint",
    "Label",
    "LabelRecord",
    "Message",
    "RequestEvent",
    "Verdict",
    "Verification",
]


class Endpoint(StrEnum):
    """The endpoints the spec names. Providers may use other names; those stay plain strings."""

    CHAT = "chat.completions"
    COMPLETIONS = "completions"
    EMBEDDINGS = "embeddings"
    PREDICT = "predict"


class Verification(StrEnum):
    """Identity verification tiers, weakest first."""

    NONE = "none"
    EMAIL = "email"
    PHONE = "phone"
    DOCUMENT = "document"
    ORGANIZATION = "organization"


class Action(StrEnum):
    """What a gateway decided for one request (spec field ``action``)."""

    ALLOW = "allow"
    THROTTLE = "throttle"
    CHALLENGE = "challenge"
    DEGRADE = "degrade"
    BLOCK = "block"


class Label(StrEnum):
    """Ground-truth label of an account."""

    BENIGN = "benign"
    MALICIOUS = "malicious"


class _Record(BaseModel):
    # Unknown fields are tolerated (the spec may be extended) but not kept on the record.
    model_config = ConfigDict(frozen=True, extra="ignore")


class Message(_Record):
    """One chat message: ``role`` (system, user, assistant, tool) and string ``content``."""

    role: str
    content: str


class RequestEvent(_Record):
    """Wire name ``events``: one API request as the provider saw it.

    ``messages`` is required for ``chat.completions``, ``prompt`` for ``completions``, and
    ``features`` for ``predict``; content fields may otherwise be absent (providers that keep no
    prompts), and every detector must cope with that.
    """

    request_id: str = Field(min_length=1)
    ts: AwareDatetime
    account_id: str = Field(min_length=1)
    api_key_id: str | None = None
    org_id: str | None = None
    endpoint: str = Field(min_length=1)
    model: str = Field(min_length=1)
    client_ip: str = Field(min_length=1)
    asn: int | None = None
    country: str | None = None
    user_agent: str | None = None
    client_fingerprint: str | None = None
    messages: tuple[Message, ...] | None = None
    prompt: str | None = None
    features: tuple[float, ...] | None = None
    params: dict[str, Any] | None = None
    response_text: str | None = None
    response_probs: tuple[float, ...] | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    status: int
    latency_ms: float | None = None
    action: str | None = None

    @model_validator(mode="after")
    def _content_for_endpoint(self) -> RequestEvent:
        if self.endpoint == Endpoint.CHAT and self.messages is None:
            raise ValueError("chat.completions events need 'messages'")
        if self.endpoint == Endpoint.COMPLETIONS and self.prompt is None:
            raise ValueError("completions events need 'prompt'")
        if self.endpoint == Endpoint.PREDICT and self.features is None:
            raise ValueError("predict events need 'features'")
        return self

    def text(self) -> str | None:
        """The prompt text a content detector should read: user/system/tool messages joined, or
        ``prompt``; ``None`` when the provider kept no content."""
        if self.messages:
            parts = [m.content for m in self.messages if m.role != "assistant"]
            return "\n".join(parts) if parts else None
        return self.prompt


class AccountRecord(_Record):
    """Wire name ``accounts``: one billing account and its sign-up evidence."""

    account_id: str = Field(min_length=1)
    created_at: AwareDatetime
    org_id: str | None = None
    email_domain: str | None = None
    verification: Verification | None = None
    payment_fingerprint: str | None = None
    signup_ip: str | None = None
    signup_fingerprint: str | None = None
    country: str | None = None
    plan: str | None = None


class LabelRecord(_Record):
    """Wire name ``labels``: ground truth for simulated or hand-labelled data."""

    account_id: str = Field(min_length=1)
    label: Label
    campaign_id: str | None = None
    kind: str | None = None


class Verdict(_Record):
    """Wire name ``verdicts``: the audit's judgement of one account (spec section 4)."""

    account_id: str = Field(min_length=1)
    score: float = Field(ge=0.0, le=1.0)
    flagged: bool
    cluster_id: str | None = None
    reasons: tuple[str, ...] = ()
    first_flagged_at: datetime | None = None
