"""Registers the provider channels' adapters with the outbound delivery core (``channels.registry``); called by
the composition root (``omnidesk.wiring.install``)."""

from __future__ import annotations

from omnidesk.channels import registry
from omnidesk.channels.base import ChannelAdapter
from omnidesk.channels.registry import AdapterContext
from omnidesk.channels.sms.adapter import SmsAdapter
from omnidesk.channels.telegram.adapter import TelegramAdapter
from omnidesk.channels.wechat.adapter import WeChatAdapter
from omnidesk.channels.whatsapp.adapter import WhatsAppAdapter
from omnidesk.security.outbound import OutboundClient, OutboundPolicy


def _client(context: AdapterContext) -> OutboundClient:
    return OutboundClient(OutboundPolicy.from_settings(context.settings))


def _whatsapp(context: AdapterContext) -> ChannelAdapter:
    return WhatsAppAdapter(context.db, context.tenant_secret_keys, _client(context))


def _telegram(context: AdapterContext) -> ChannelAdapter:
    return TelegramAdapter(context.db, context.tenant_secret_keys, _client(context))


def _sms(context: AdapterContext) -> ChannelAdapter:
    return SmsAdapter(context.db, context.tenant_secret_keys, _client(context))


def _wechat(context: AdapterContext) -> ChannelAdapter:
    return WeChatAdapter(context.db, context.tenant_secret_keys, _client(context))


def register_all() -> None:
    registry.register("whatsapp", _whatsapp)
    registry.register("telegram", _telegram)
    registry.register("sms", _sms)
    registry.register("wechat", _wechat)
