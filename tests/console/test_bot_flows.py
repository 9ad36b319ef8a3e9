"""Issue "The staff console", bug 6 (the assistant): 北京 answers the zone question, and a question in the other
language mid-flow is answered (or handed over) in that language, not trapped in the flow's."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.assistant.conftest import BotWorld
from tests.assistant.test_answer_api import ask

CHINESE = re.compile(r"[\u4e00-\u9fff]")


def test_a_city_answers_the_zone_question(client: TestClient, bot_world: BotWorld) -> None:
    first = ask(client, bot_world, "运费多少")
    second = ask(client, bot_world, "3公斤", first["state"])
    done = ask(client, bot_world, "寄到北京", second["state"])
    assert "16.00" in done["text"] and "华北" in done["text"], done
    english = ask(client, bot_world, "how much is shipping")
    english = ask(client, bot_world, "3 kg", english["state"])
    quote = ask(client, bot_world, "to Beijing please", english["state"])
    assert "16.00" in quote["text"] and not CHINESE.search(quote["text"]), quote


def test_an_english_question_mid_flow_is_answered_in_english(client: TestClient, bot_world: BotWorld) -> None:
    first = ask(client, bot_world, "我的订单发货了吗")
    assert first["reason"] == "flow_ask:order_no"
    asked = ask(client, bot_world, "Sorry, I do not have the number, can I talk to a real person", first["state"])
    assert asked["language"] == "en" and not CHINESE.search(asked["text"]), asked
    again = ask(client, bot_world, "我的订单发货了吗")
    switched = ask(client, bot_world, "How long does a refund take?", again["state"])
    assert switched["language"] == "en" and not CHINESE.search(switched["text"]), switched
