"""Optional large language model through any OpenAI-compatible endpoint (off by default).

It only ever *rephrases* an answer the assistant already found in the tenant's knowledge (and says which entry it
came from), or drafts a hand-over summary for the agent. It never answers on its own: with nothing matched there
is nothing to rephrase. Every path works without it; a failing or slow endpoint falls back to the plain answer.

The endpoint is called through the platform's outbound policy, and the only credential sent is the tenant's own
API key (stored encrypted per tenant, see ``bot/secrets.py``), never anything of the server process.
"""

from __future__ import annotations

import logging

from omnidesk.bot.settings import LlmSettings
from omnidesk.security.outbound import OutboundClient, OutboundError

log = logging.getLogger("omnidesk.bot.llm")

_REPHRASE = {
    "zh-CN": "你是客服助手。只根据下面的知识条目，用简洁友好的中文回答客户的问题，不要添加条目中没有的信息。",
    "en": "You are a customer-service assistant. Answer the customer's question briefly and kindly using ONLY the "
    "knowledge entry below. Do not add anything the entry does not say.",
}
_SUMMARY = {
    "zh-CN": "用三行以内总结这段客服对话：客户的诉求、已提供的信息、机器人已尝试的回答。",
    "en": "Summarise this support conversation in at most three lines: what the customer wants, the details they "
    "gave, and what the bot already tried.",
}


class LlmClient:
    def __init__(self, settings: LlmSettings, api_key: str, outbound: OutboundClient) -> None:
        self.settings = settings
        self._api_key = api_key
        self._client = outbound

    @property
    def enabled(self) -> bool:
        return self.settings.enabled and bool(self.settings.base_url) and bool(self.settings.model)

    def _complete(self, system: str, user: str) -> str | None:
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        try:
            response = self._client.request(
                "POST",
                self.settings.base_url.rstrip("/") + "/chat/completions",
                timeout=self.settings.timeout_seconds,
                headers=headers,
                json={
                    "model": self.settings.model,
                    "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
                    "temperature": 0.2,
                },
            )
            if response.status_code >= 300:
                raise OutboundError(f"HTTP {response.status_code}")
            text = response.json()["choices"][0]["message"]["content"]
        except OutboundError as exc:
            log.warning("LLM call failed; using the plain answer", extra={"error": exc.reason})
            return None
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            log.warning("LLM call failed; using the plain answer", extra={"error": type(exc).__name__})
            return None
        return str(text).strip()[:4000] or None

    def rephrase(self, question: str, answer: str, source_id: str, language: str) -> str | None:
        """The grounded answer in friendlier words, ending with its source; None to keep the original."""
        if not self.enabled:
            return None
        lang = "zh-CN" if language.startswith("zh") else "en"
        text = self._complete(_REPHRASE[lang], f"Knowledge entry [{source_id}]:\n{answer}\n\nCustomer: {question}")
        if text is None:
            return None
        source = "来源" if lang == "zh-CN" else "Source"
        return f"{text}\n\n({source}: {source_id})"

    def summarise(self, transcript: str, language: str) -> str | None:
        if not self.enabled:
            return None
        lang = "zh-CN" if language.startswith("zh") else "en"
        return self._complete(_SUMMARY[lang], transcript[-6000:])
