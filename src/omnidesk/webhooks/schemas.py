"""Webhook subscriptions and deliveries as the API shows them: never the secret, except once at creation."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from omnidesk.core.schemas import Input, Output


class SubscriptionIn(Input):
    url: str = Field(
        min_length=8, max_length=2000, description="https:// (http:// only for hosts the operator allowed)"
    )
    event_types: list[str] = Field(min_length=1, max_length=50)
    description: str = Field(default="", max_length=200)
    enabled: bool = True


class SubscriptionPatch(Input):
    url: str | None = Field(default=None, min_length=8, max_length=2000)
    event_types: list[str] | None = Field(default=None, min_length=1, max_length=50)
    description: str | None = Field(default=None, max_length=200)
    enabled: bool | None = None


class SubscriptionOut(Output):
    id: uuid.UUID
    url: str
    description: str
    event_types: list[str]
    enabled: bool
    disabled_reason: str
    created_at: datetime
    updated_at: datetime


class SubscriptionCreated(SubscriptionOut):
    secret: str = Field(description="the signing secret; shown this once, never again")


class DeliveryOut(Output):
    id: uuid.UUID
    subscription_id: uuid.UUID
    event_type: str
    state: str
    attempts: int
    last_status: int | None
    last_error: str
    last_duration_ms: int | None
    created_at: datetime
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
