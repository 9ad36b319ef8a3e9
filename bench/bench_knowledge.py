"""Knowledge search benchmark: index build time and query p50/p99 at 1k and 10k articles (100k with --full),
Chinese and English queries, against SQL LIKE baselines on the same rows in the same run (SQLite in memory):
``LIMIT 10`` (first unranked rows, what a naive search box does) and all matches (what ranking would need).

    python bench/bench_knowledge.py [--full] [--queries N]
"""

from __future__ import annotations

import argparse
import random
import time
import uuid

from sqlalchemy import create_engine, text

from omnidesk.knowledge.index import IndexDoc, SearchIndex
from omnidesk.knowledge.tokenize import tokens

ZH_WORDS = [
    "退货",
    "退款",
    "快递",
    "配送",
    "发票",
    "优惠券",
    "会员",
    "订单",
    "地址",
    "支付",
    "售后",
    "换货",
    "物流",
    "签收",
    "破损",
    "补发",
    "运费",
    "积分",
    "价保",
    "预售",
    "生鲜",
    "家电",
    "手机",
    "衣服",
    "尺码",
    "客服",
    "账号",
    "密码",
    "登录",
    "取消",
]
EN_WORDS = [
    "return",
    "refund",
    "parcel",
    "delivery",
    "invoice",
    "coupon",
    "member",
    "order",
    "address",
    "payment",
    "exchange",
    "tracking",
    "damaged",
    "shipping",
    "points",
    "price",
    "preorder",
    "fresh",
    "phone",
    "size",
    "account",
    "password",
    "login",
    "cancel",
    "warranty",
    "store",
]
ZH_QUERIES = ["怎么退货", "快递到哪了", "发票", "优惠券怎么用", "退款多久到账", "修改地址", "价保申请", "会员积分"]
EN_QUERIES = ["return policy", "where is my parcel", "invoice", "coupon", "refund time", "change address", "retrun"]


def make_docs(n: int, rng: random.Random) -> list[IndexDoc]:
    docs = []
    for i in range(n):
        zh = i % 2 == 0
        words = ZH_WORDS if zh else EN_WORDS
        title = ("" if zh else " ").join(rng.sample(words, 3)) + (f"问题{i}" if zh else f" question {i}")
        body = ("，" if zh else " ").join(rng.choice(words) for _ in range(40))
        docs.append(IndexDoc(uuid.uuid4(), title, (), (), body, "zh-CN" if zh else "en", None, "public"))
    return docs


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000


def bench(n: int, queries: int, rng: random.Random) -> None:
    docs = make_docs(n, rng)
    counted: dict[IndexDoc, dict[str, int]] = {}
    t0 = time.perf_counter()
    index = SearchIndex.build(docs, counted)
    build = time.perf_counter() - t0
    # A publish changes one entry: the next build reuses the term counts of all the others.
    docs[0] = IndexDoc(uuid.uuid4(), docs[0].title, (), (), docs[0].text + " 新增", docs[0].language, None, "public")
    t0 = time.perf_counter()
    SearchIndex.build(docs, {d: counted[d] for d in docs if d in counted})
    rebuild = time.perf_counter() - t0
    engine = create_engine("sqlite://")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE a (id TEXT, title TEXT, body TEXT, language TEXT)"))
        conn.execute(
            text("INSERT INTO a VALUES (:id, :title, :body, :language)"),
            [{"id": str(d.id), "title": d.title, "body": d.text, "language": d.language} for d in docs],
        )
    print(
        f"\n{n:>7} articles: index build {build:.2f} s ({n / build:,.0f} docs/s), {len(index.postings):,} terms;"
        f" rebuild after one edit {rebuild:.2f} s"
    )
    for label, qs in (("zh", ZH_QUERIES), ("en", EN_QUERIES)):
        ours: list[float] = []
        like: list[float] = []
        like_all: list[float] = []
        found = 0
        for i in range(queries):
            q = qs[i % len(qs)]
            t = time.perf_counter()
            hits = index.search(q, limit=10)
            ours.append(time.perf_counter() - t)
            found += bool(hits)
            # Baseline: what a plain SQL search does: LIKE on each query word, title or body, first 10 rows.
            words = tokens(q)[:3] or [q]
            where = " OR ".join(f"title LIKE :w{k} OR body LIKE :w{k}" for k in range(len(words)))
            params = {f"w{k}": f"%{w}%" for k, w in enumerate(words)}
            t = time.perf_counter()
            with engine.connect() as conn:
                conn.execute(text(f"SELECT id FROM a WHERE {where} LIMIT 10"), params).all()
            like.append(time.perf_counter() - t)
            # The same without LIMIT: what ranking or counting the matches would need at least.
            t = time.perf_counter()
            with engine.connect() as conn:
                conn.execute(text(f"SELECT id FROM a WHERE {where}"), params).all()
            like_all.append(time.perf_counter() - t)
        print(
            f"  {label}: BM25 index p50 {pct(ours, 50):7.2f} ms  p99 {pct(ours, 99):7.2f} ms  (hit rate {found / queries:.0%})"
            f" | SQL LIKE LIMIT 10 p50 {pct(like, 50):6.2f} ms  p99 {pct(like, 99):6.2f} ms"
            f" | LIKE all matches p50 {pct(like_all, 50):7.2f} ms  p99 {pct(like_all, 99):7.2f} ms"
        )
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true", help="also 100,000 articles (several minutes)")
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    rng = random.Random(7)
    tokens("预热 warm up")  # load jieba's dictionary outside the measurements
    for n in (1_000, 10_000, *((100_000,) if args.full else ())):
        bench(n, args.queries, rng)


if __name__ == "__main__":
    main()
