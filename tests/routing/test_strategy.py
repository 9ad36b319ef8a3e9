"""Pure routing decisions, without a database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from omnidesk.routing.strategy import Candidate, Presence, eligible, expected_wait, pick_round_robin, queue_order_key

T0 = datetime(2026, 11, 11, 10, 0, tzinfo=UTC)
TEAM = uuid.uuid4()


def agent(name: str, **kw: object) -> Candidate:
    values: dict[str, object] = {
        "staff_id": uuid.uuid5(uuid.NAMESPACE_DNS, name),
        "team_ids": frozenset({TEAM}),
        "presence": Presence.ONLINE,
        "connected": True,
        "load": 0,
        "capacity": 3,
        "last_offered_at": None,
    }
    values.update(kw)
    return Candidate(**values)  # type: ignore[arg-type]


def test_only_online_connected_agents_with_capacity_in_the_team_are_eligible() -> None:
    assert eligible(agent("a"), team_id=TEAM, declined=frozenset())
    assert not eligible(agent("a", presence=Presence.AWAY), team_id=TEAM, declined=frozenset())
    assert not eligible(agent("a", connected=False), team_id=TEAM, declined=frozenset())
    assert not eligible(agent("a", load=3), team_id=TEAM, declined=frozenset())
    assert not eligible(agent("a", team_ids=frozenset()), team_id=TEAM, declined=frozenset())
    assert eligible(agent("a", team_ids=frozenset()), team_id=None, declined=frozenset())
    assert not eligible(agent("a"), team_id=TEAM, declined=frozenset({agent("a").staff_id}))


def test_round_robin_goes_to_whoever_waited_longest_for_work() -> None:
    pool = [
        agent("recent", last_offered_at=T0),
        agent("earlier", last_offered_at=T0 - timedelta(minutes=5)),
        agent("busy-never", load=2),
    ]
    assert pick_round_robin(pool, team_id=TEAM) == pool[2]  # never offered anything comes first
    pool[2] = agent("busy-never", load=3)  # now full
    assert pick_round_robin(pool, team_id=TEAM) == pool[1]
    assert pick_round_robin([agent("x", presence=Presence.OFFLINE)], team_id=TEAM) is None


def test_queue_order_and_expected_wait() -> None:
    keys = sorted(
        [("normal", T0), ("urgent", T0 + timedelta(minutes=3)), ("normal", T0 - timedelta(minutes=1))],
        key=lambda k: queue_order_key(*k),
    )
    assert [k[0] for k in keys] == ["urgent", "normal", "normal"] and keys[1][1] < keys[2][1]
    waits = [timedelta(minutes=2), timedelta(minutes=4)]
    assert expected_wait(1, recent_waits=waits, agents_available=1, default=timedelta(minutes=9)) == timedelta(
        minutes=3
    )
    assert expected_wait(4, recent_waits=waits, agents_available=2, default=timedelta(0)) == timedelta(minutes=6)
    assert expected_wait(2, recent_waits=[], agents_available=0, default=timedelta(minutes=1)) == timedelta(minutes=2)
