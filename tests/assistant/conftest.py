"""A tenant with a working assistant: the demo's flows and rules, a small bilingual FAQ, a trained model, and
Skylark's order service running as a real HTTP server on a free port."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from omnidesk.bot.brains import Brains
from omnidesk.bot.demo import seed_bot
from omnidesk.core.actor import system_actor
from omnidesk.core.db import Database
from omnidesk.demo.order_service import OrderService
from omnidesk.knowledge import transfer
from tests.factories import World, make_world

FAQ_CSV = """id,question,variants,answer,language,status
return-policy,怎么退货,如何申请退货|我想退货|退货流程是什么,登录后在“我的订单”中点击“申请售后”，7 天内可无理由退货。,zh-CN,published
refund-time,退款多久到账,钱什么时候退回来|退款什么时候到,退款审核通过后 1-3 个工作日原路退回。,zh-CN,published
invoice,怎么开发票,可以开发票吗|发票怎么申请,在订单详情页点击“申请发票”，电子发票 24 小时内发送到邮箱。,zh-CN,published
return-policy-en,How do I return an item?,I want to return something|what is your return policy,"Open My Orders, choose Return; you have 7 days, no reason needed.",en,published
refund-time-en,How long does a refund take?,when will I get my money back|refund timing,Refunds reach your original payment method 1-3 business days after approval.,en,published
"""


@dataclass
class BotWorld:
    world: World
    orders: OrderService


@pytest.fixture
def bot_world(db: Database, orders: OrderService, app: object) -> BotWorld:
    world = make_world(db)
    actor = system_actor(world.tenant_id)
    with db.tenant_transaction(world.tenant_id) as s:
        transfer.import_entries(s, actor, "csv", FAQ_CSV.encode())
    brains: Brains = app.state.brains  # type: ignore[attr-defined]
    seed_bot(db, world.tenant_id, orders.url, brains)
    orders.set_failing(False)
    return BotWorld(world=world, orders=orders)
