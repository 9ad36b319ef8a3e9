"""Agent assist latency: ``GET /api/v1/conversations/{id}/assist`` p50/p99 on a tenant with a FAQ, articles,
canned responses and a history of resolved conversations, against two baselines measured in the same run on the
same data: ``GET /conversations/{id}`` (a plain read) and ``GET /knowledge/suggest?conversation_id=`` (knowledge
search only, what the panel had before). In process (TestClient, SQLite file), no LLM.

    python bench/bench_assist.py [--requests 200] [--faq 300] [--history 500] [--encoder none|use|...]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

TOPICS = [
    ("退货", "登录后在“我的订单”中点击“申请售后”，7 天内可无理由退货。"),
    ("退款", "退款审核通过后 1-3 个工作日原路退回。"),
    ("发票", "在订单详情页点击“申请发票”，电子发票 24 小时内发送到邮箱。"),
    ("快递", "发货后可在订单详情查看物流，一般 2-3 天送达。"),
    ("地址", "未发货的订单可以在订单详情里修改收货地址。"),
    ("优惠券", "优惠券在结算页自动使用，过期不补。"),
    ("会员", "会员积分每消费 1 元得 1 分，可抵扣现金。"),
    ("换货", "尺码不合适可申请换货，来回运费由我们承担。"),
    ("破损", "收到破损请拍照并在 24 小时内申请售后，我们优先补发。"),
    ("价保", "下单后 7 天内降价可申请价保，差价退回原支付方式。"),
]
ASKS = ["怎么{t}", "{t}怎么办", "请问{t}流程是什么", "{t}需要多久", "我想问一下{t}的规定", "{t}可以吗"]


PROFILE = False


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def faq_csv(n: int) -> bytes:
    rows = ["id,question,variants,answer,language,status"]
    for i in range(n):
        topic, answer = TOPICS[i % len(TOPICS)]
        ask = ASKS[(i // len(TOPICS)) % len(ASKS)].format(t=topic)
        rows.append(f"faq-{i},{ask}（{i}）,{topic}问题{i}|关于{topic}{i},{answer}（条目 {i}）,zh-CN,published")
    return ("\n".join(rows) + "\n").encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--faq", type=int, default=300)
    parser.add_argument("--history", type=int, default=500, help="resolved conversations with an agent answer")
    parser.add_argument("--encoder", default="none", help="the assistant's encoder ('none': lexical only)")
    parser.add_argument("--profile", action="store_true", help="print a profile of 20 assist calls")
    args = parser.parse_args()

    from fastapi.testclient import TestClient

    from omnidesk.accounts import actions as accounts
    from omnidesk.accounts.schemas import ApiKeyCreate, TenantCreate
    from omnidesk.conversations import actions as conversations
    from omnidesk.conversations import canned
    from omnidesk.conversations.schemas import ConversationCreate, ConversationUpdate, SenderType
    from omnidesk.core import migrate
    from omnidesk.core.actor import system_actor
    from omnidesk.core.db import Database
    from omnidesk.core.settings import load_settings
    from omnidesk.customers import actions as customers
    from omnidesk.customers.schemas import CustomerCreate
    from omnidesk.knowledge import transfer
    from omnidesk.security.permissions import Role
    from omnidesk.web.app import create_app

    folder = Path(tempfile.mkdtemp(prefix="bench-assist-"))
    url = f"sqlite:///{folder / 'bench.db'}"
    settings = load_settings(
        environment="test", data_dir=folder, database_url=url, api_rate_per_minute=10_000_000, log_json=False,
        bot_encoder=args.encoder, jobs_immediate=True,
    )  # fmt: skip
    migrate.upgrade(url)
    db = Database(url)
    app = create_app(settings, db=db)
    rng = random.Random(7)

    started = time.perf_counter()
    with db.platform_transaction() as s:
        tenant, _, _ = accounts.create_tenant(s, TenantCreate(slug="bench", name="Bench", admin_email="a@b.example"))
    system = system_actor(tenant.id)
    with db.tenant_transaction(tenant.id) as s:
        _, key = accounts.do_create_api_key(s, system, ApiKeyCreate(name="agent", role=Role.SUPERVISOR))
        _, admin_key = accounts.do_create_api_key(s, system, ApiKeyCreate(name="admin", role=Role.ADMIN))
        transfer.import_entries(s, system, "csv", faq_csv(args.faq))
        for i, (topic, answer) in enumerate(TOPICS * 3):
            data = canned.CannedCreate(
                shortcut=f"c{i}", title=f"{topic}说明 {i}", body=f"{{customer_name}}您好，{answer}"
            )
            canned.create_canned(s, system, data)
        customer = customers.create_customer(s, system, CustomerCreate(name="压测客户"))
    for start in range(0, args.history, 100):
        with db.tenant_transaction(tenant.id) as s:
            for _ in range(start, min(start + 100, args.history)):
                topic, answer = TOPICS[rng.randrange(len(TOPICS))]
                ask = ASKS[rng.randrange(len(ASKS))].format(t=topic)
                c = conversations.open_conversation(
                    s, system, ConversationCreate(customer_id=customer.id, channel="web", message=f"你好，{ask}？")
                )
                conversations.do_post_message(s, system, c, body=f"您好，{answer}", sender_type=SenderType.AGENT,
                                              sender_id=None)  # fmt: skip
                conversations.update_conversation(s, system, c.id, ConversationUpdate(status="resolved"))
    with db.tenant_transaction(tenant.id) as s:
        target = conversations.open_conversation(
            s, system, ConversationCreate(customer_id=customer.id, channel="web", message="你好")
        )
        target_id = target.id
    seeded = time.perf_counter() - started

    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(app) as client:
        # the conversation the agent is answering: a few turns, then the customer's question
        admin = {"Authorization": f"Bearer {admin_key}"}
        turns = [(f"客服回复 {i}", "agent") for i in range(5)]
        turns += [(f"订单 SO2026111800{i} 的情况我再说明一下。", "customer") for i in range(5)]
        turns[::2], turns[1::2] = turns[:5], turns[5:]
        turns.append(("我买的鞋子尺码不合适，我想退货，怎么操作？", "customer"))
        for body, sender in turns:
            posted = client.post(f"/api/v1/conversations/{target_id}/messages", headers=admin,
                                 json={"body": body, "sender_type": sender})  # fmt: skip
            assert posted.status_code == 201, posted.text

        def timed(path: str, n: int) -> tuple[list[float], float]:
            first = time.perf_counter()
            assert client.get(path, headers=headers).status_code == 200, client.get(path, headers=headers).text
            cold = time.perf_counter() - first
            for _ in range(5):
                client.get(path, headers=headers)
            out = []
            for _ in range(n):
                t = time.perf_counter()
                response = client.get(path, headers=headers)
                out.append(time.perf_counter() - t)
                assert response.status_code == 200
            return out, cold

        check: Callable[[], dict[str, object]] = lambda: client.get(  # noqa: E731
            f"/api/v1/conversations/{target_id}/assist", headers=headers
        ).json()
        sample = check()
        if "--profile" in sys.argv[1:] or PROFILE:
            import cProfile
            import pstats

            from omnidesk.bot import assist as assist_module
            from omnidesk.core.actor import Actor, ActorKind

            reader = Actor(tenant_id=tenant.id, kind=ActorKind.API_KEY, id=uuid.uuid4(), role=Role.SUPERVISOR)
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(20):
                with db.tenant_read(tenant.id) as s:
                    brain = app.state.brains.get(s, tenant.id)
                    assist_module.gather(s, reader, target_id, brain, reader_language="zh-CN")
            profiler.disable()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
        assist, assist_cold = timed(f"/api/v1/conversations/{target_id}/assist", args.requests)
        plain, _ = timed(f"/api/v1/conversations/{target_id}", args.requests)
        suggest, _ = timed(f"/api/v1/knowledge/suggest?conversation_id={target_id}", args.requests)

    def line(name: str, values: list[float]) -> tuple[float, float]:
        p50, p99 = percentile(values, 50) * 1000, percentile(values, 99) * 1000
        print(f"  {name:<44} p50 {p50:7.2f} ms   p99 {p99:7.2f} ms   mean {statistics.mean(values) * 1000:7.2f} ms")
        return p50, p99

    print(f"bench_assist: {args.faq} FAQ entries, {len(TOPICS) * 3} canned, {args.history} resolved conversations, "
          f"encoder={args.encoder}, {args.requests} requests each (seeded in {seeded:.1f} s)")  # fmt: skip
    a50, a99 = line("GET /conversations/{id}/assist", assist)
    b50, b99 = line("baseline GET /conversations/{id}", plain)
    k50, k99 = line("baseline GET /knowledge/suggest?conversation_id", suggest)
    print(f"  first assist call (brain and index build): {assist_cold * 1000:.0f} ms")
    print(f"  ratio assist / plain read:        p50 {a50 / b50:5.1f}x   p99 {a99 / b99:5.1f}x")
    print(f"  ratio assist / knowledge suggest: p50 {a50 / k50:5.1f}x   p99 {a99 / k99:5.1f}x")
    knowledge = sample["knowledge"]
    replies = sample["replies"]
    assert isinstance(knowledge, list) and isinstance(replies, list)
    print(f"  sample: top knowledge {knowledge[0]['title'] if knowledge else None!r}, "
          f"{len(replies)} replies ({', '.join(r['source'] for r in replies)})")  # fmt: skip


if __name__ == "__main__":
    main()
