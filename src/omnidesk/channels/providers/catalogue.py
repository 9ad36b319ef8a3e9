"""The provider channels the product speaks, and what configuring each one takes.

``config`` fields are shown back on the setup form; ``secrets`` are write-only (sealed in ``tenant_secrets`` under
``<provider>.<name>``; the form only says whether one is set)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    key: str  # also the channel name stored on conversations
    config: tuple[tuple[str, str], ...]  # (field, default)
    secrets: tuple[str, ...]
    webhook_path: str  # under /api/v1, with {tenant}


WHATSAPP = ProviderSpec(
    "whatsapp",
    (("phone_number_id", ""), ("api_base", "https://graph.facebook.com/v21.0")),
    ("app_secret", "access_token", "verify_token"),
    "/channels/whatsapp/{tenant}/webhook",
)
TELEGRAM = ProviderSpec(
    "telegram",
    (("api_base", "https://api.telegram.org"),),
    ("bot_token", "secret_token"),
    "/channels/telegram/{tenant}/webhook",
)
SMS = ProviderSpec(
    "sms",
    (("account_sid", ""), ("from_number", ""), ("api_base", "https://api.twilio.com")),
    ("auth_token",),
    "/channels/sms/{tenant}/webhook",
)

WECHAT = ProviderSpec(
    "wechat",
    (("app_id", ""), ("api_base", "https://api.weixin.qq.com")),
    ("app_secret", "token", "encoding_aes_key"),
    "/channels/wechat/{tenant}/webhook",
)

PROVIDERS: dict[str, ProviderSpec] = {p.key: p for p in (WHATSAPP, TELEGRAM, SMS, WECHAT)}


def secret_name(provider: str, name: str) -> str:
    return f"{provider}.{name}"
