"""Request and response shapes of the customers API."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field, StringConstraints, model_validator

from omnidesk.core.schemas import Email, Input, Language, Output, SingleLine, Tag

Phone = Annotated[str, StringConstraints(min_length=5, max_length=40, pattern=r"^\+?[0-9](?:[ \-]?[0-9]){4,19}$")]
Attributes = dict[Annotated[SingleLine, StringConstraints(min_length=1, max_length=64)], Any]


class IdentityKind(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    WEB_VISITOR = "web_visitor"
    EXTERNAL = "external"
    WECHAT = "wechat"
    WHATSAPP = "whatsapp"
    TELEGRAM = "telegram"
    WECHAT_OPENID = "wechat_openid"


class IdentityIn(Input):
    kind: IdentityKind
    value: Annotated[SingleLine, StringConstraints(min_length=1, max_length=254)]

    @model_validator(mode="after")
    def _value_fits_kind(self) -> IdentityIn:
        if self.kind == IdentityKind.EMAIL:
            if "@" not in self.value or any(c.isspace() for c in self.value):
                raise ValueError("an e-mail identity needs a valid e-mail address")
            self.value = self.value.lower()
        if self.kind == IdentityKind.PHONE:
            digits = self.value.replace(" ", "").replace("-", "")
            if not digits.lstrip("+").isdigit() or not 5 <= len(digits) <= 20:
                raise ValueError("a phone identity needs digits, optionally starting with +")
            self.value = digits
        return self


class CustomerCreate(Input):
    name: Annotated[SingleLine, StringConstraints(max_length=200)] = ""
    email: Email | None = None
    phone: Phone | None = None
    language: Language | None = None
    tags: list[Tag] = Field(default=[], max_length=50)
    attributes: Attributes = Field(default={}, max_length=100)
    identities: list[IdentityIn] = Field(default=[], max_length=20)


class CustomerUpdate(Input):
    name: Annotated[SingleLine, StringConstraints(max_length=200)] | None = None
    email: Email | None = None
    phone: Phone | None = None
    language: Language | None = None
    tags: list[Tag] | None = Field(default=None, max_length=50)
    attributes: Attributes | None = Field(default=None, max_length=100)
    notes: Annotated[str, StringConstraints(max_length=4000)] | None = None


class MergeIn(Input):
    duplicate_id: uuid.UUID = Field(description="the duplicate profile that is merged into this one and retired")


class IdentityOut(Output):
    id: uuid.UUID
    kind: str
    value: str
    verified: bool
    created_at: datetime


class CustomerOut(Output):
    id: uuid.UUID
    name: str
    email: str | None
    phone: str | None
    language: str | None
    tags: list[str]
    attributes: dict[str, Any]
    notes: str
    identities: list[IdentityOut] = Field(default_factory=list)
    merged_into_id: uuid.UUID | None = Field(default=None, description="set when this profile was merged away")
    created_at: datetime
    updated_at: datetime
