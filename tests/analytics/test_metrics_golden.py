"""Golden vectors: small hand-built conversation histories and the value every catalogue metric must give for them,
the known traps included (hand-over clock, the assistant's replies, callbacks, repeat contacts)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from omnidesk.analytics.metrics import BY_ID, CATALOGUE, Counters, History, Policy, facts, summarize

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def h(**kw: object) -> History:
    return History(conversation_id=uuid.uuid4(), started_at=T0, **kw)  # type: ignore[arg-type]


def total(histories: list[History], policy: Policy = Policy()) -> dict[str, float | None]:
    c = Counters()
    for one in histories:
        c.add(facts(one, policy))
    return summarize(c)


def test_the_catalogue_is_complete_and_bilingual() -> None:
    ids = {m.id for m in CATALOGUE}
    assert ids == {
        "conversations",
        "first_response",
        "speed_of_answer",
        "handle_time",
        "resolution_time",
        "abandonment",
        "bot_containment",
        "transfer_rate",
        "fcr",
        "csat",
        "sla_met",
    }
    for m in CATALOGUE:
        assert m.name_zh and m.name_en and m.formula_zh and m.formula_en and m.version >= 1
        assert m.business_hours == "calendar"


def test_first_response_counts_from_the_hand_over_and_ignores_the_assistant() -> None:
    # The assistant chatted 10 minutes (its replies are not in agent_replies), handed over at 600 s, a person
    # answered at 660 s: 60 s, not 660 s.
    bot_then_person = h(bot_took=True, queued_at=at(600), assigned_at=at(630), agent_replies=(at(660),))
    # A person-only conversation answered after 120 s.
    person = h(agent_replies=(at(120), at(500)))
    # Nobody answered: left out of the mean.
    silent = h()
    m = total([bot_then_person, person, silent])
    assert m["first_response"] == 90.0  # (60 + 120) / 2
    assert m["conversations"] == 3.0
    assert m["speed_of_answer"] == 30.0


def test_abandonment_excludes_callbacks_and_answered_or_waiting_ones() -> None:
    left = h(queued_at=at(0), queue_state="cancelled")
    callback = h(queued_at=at(0), queue_state="cancelled", callback=True)
    answered = h(queued_at=at(0), assigned_at=at(20), queue_state="assigned", agent_replies=(at(25),))
    still_waiting = h(queued_at=at(0), queue_state="waiting")
    late = h(queued_at=at(0), assigned_at=at(45), queue_state="assigned")
    m = total([left, callback, answered, still_waiting, late])
    assert m["abandonment"] == 25.0  # 1 of the 4 queued (the callback is in neither)
    # SLA (30 s): answered within 30 s ÷ (answered + abandoned) = 1 / 3.
    assert m["sla_met"] == 33.3
    assert total([late], Policy(service_level_seconds=60))["sla_met"] == 100.0


def test_bot_containment_needs_no_person_and_no_repeat_within_24_hours() -> None:
    contained = h(bot_took=True, held_by_bot=True, resolved_at=at(100))
    repeat_next_day_early = h(
        bot_took=True, held_by_bot=True, resolved_at=at(100), next_contact_at=at(100) + timedelta(hours=23)
    )
    repeat_after_a_day = h(
        bot_took=True, held_by_bot=True, resolved_at=at(100), next_contact_at=at(100) + timedelta(hours=25)
    )
    handed_over = h(bot_took=True, queued_at=at(50), assigned_at=at(60), agent_replies=(at(70),), resolved_at=at(300))
    still_open = h(bot_took=True, held_by_bot=True)
    m = total([contained, repeat_next_day_early, repeat_after_a_day, handed_over, still_open])
    assert m["bot_containment"] == 40.0  # 2 of 5


def test_fcr_uses_the_tenant_window_from_the_resolution() -> None:
    once = h(resolved_at=at(600), agent_replies=(at(60),))
    back_in_10h = h(resolved_at=at(600), agent_replies=(at(60),), next_contact_at=at(600) + timedelta(hours=10))
    back_in_30h = h(resolved_at=at(600), agent_replies=(at(60),), next_contact_at=at(600) + timedelta(hours=30))
    open_one = h(agent_replies=(at(60),))
    assert total([once, back_in_10h, back_in_30h, open_one])["fcr"] == 66.7  # 24 h: 2 of the 3 resolved
    assert total([once, back_in_10h, back_in_30h, open_one], Policy(fcr_hours=48))["fcr"] == 33.3
    assert total([once, back_in_10h, back_in_30h, open_one], Policy(fcr_hours=8))["fcr"] == 100.0


def test_handle_resolution_transfer_and_csat() -> None:
    a = h(queued_at=at(0), assigned_at=at(100), agent_replies=(at(130),), resolved_at=at(700), transfers=1, rating=5)
    b = h(agent_replies=(at(50),), resolved_at=at(350), rating=2)  # no queue: handle time from the first reply
    c = h(bot_took=True, held_by_bot=True, resolved_at=at(90), rating=4)  # the assistant alone: not handled by people
    m = total([a, b, c])
    assert m["handle_time"] == 450.0  # (600 + 300) / 2
    assert m["resolution_time"] == round((700 + 350 + 90) / 3, 1)
    assert m["transfer_rate"] == 50.0  # 1 of the 2 people handled
    assert m["csat"] == 66.7


def test_no_base_gives_no_figure() -> None:
    m = total([])
    assert m["conversations"] == 0.0
    assert all(m[k] is None for k in BY_ID if k != "conversations")
