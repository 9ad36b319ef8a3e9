"""Shared fixtures for the NLU tests: a deterministic fake encoder and a tiny bilingual training set."""

from __future__ import annotations

import pytest

from omnidesk.bot.nlu import HashingEncoder

ZH_INTENTS = {
    "refund": ["我要退款", "怎么申请退款", "退款多久到账", "钱什么时候退回来", "申请退钱", "退款进度查询"],
    "logistics": ["我的快递到哪了", "物流信息查询", "包裹什么时候到", "快递怎么还没到", "查一下物流", "发货了吗"],
    "invoice": ["怎么开发票", "发票抬头怎么改", "我要开增值税发票", "电子发票在哪下载", "补开发票", "发票开错了"],
}
EN_INTENTS = {
    "card_lost": ["I lost my card", "my card was stolen", "cannot find my card", "report a lost card",
                  "someone stole my credit card", "card missing"],
    "balance": ["what is my balance", "how much money do I have", "check account balance",
                "show my balance", "balance inquiry", "how much is left in my account"],
    "transfer": ["send money to a friend", "how do I transfer funds", "make a bank transfer",
                 "transfer money abroad", "wire money", "move money between accounts"],
}  # fmt: skip
OOS = ["what's the weather like", "tell me a joke", "who won the football game", "recommend a movie",
       "how tall is mount everest", "play some music", "what time is it in tokyo", "translate hello to french"]  # fmt: skip


def _flatten(d: dict[str, list[str]]) -> tuple[list[str], list[str]]:
    texts, labels = [], []
    for label, examples in d.items():
        texts.extend(examples)
        labels.extend([label] * len(examples))
    return texts, labels


@pytest.fixture(scope="session")
def fake_encoder() -> HashingEncoder:
    return HashingEncoder(dim=128)


@pytest.fixture(scope="session")
def zh_data() -> tuple[list[str], list[str]]:
    return _flatten(ZH_INTENTS)


@pytest.fixture(scope="session")
def en_data() -> tuple[list[str], list[str]]:
    return _flatten(EN_INTENTS)


@pytest.fixture(scope="session")
def oos_examples() -> list[str]:
    return list(OOS)
