import time

from omnidesk.bot.nlu import FaqIndex, HashingEncoder

FAQ = [
    ("return", ["怎么退货", "如何申请退货", "退货流程是什么"]),
    ("refund_time", ["退款多久到账", "钱什么时候退回来"]),
    ("invoice", ["怎么开发票", "发票在哪里下载"]),
    ("shipping", ["什么时候发货", "下单后多久发货"]),
    ("password", ["how do I reset my password", "forgot password"]),
]


def build(encoder: HashingEncoder | None = None) -> FaqIndex:
    index = FaqIndex(encoder=encoder)
    index.add_many(FAQ)
    return index


def test_question_to_question_match() -> None:
    index = build()
    results = index.search("退货怎么申请")
    assert results[0].entry_id == "return"
    assert 0.0 <= results[0].score <= 1.0
    assert results == sorted(results, key=lambda m: -m.score)
    assert len({m.entry_id for m in results}) == len(results)  # one result per entry


def test_scores_are_probabilities_and_ordered_by_similarity() -> None:
    index = build(HashingEncoder(dim=128))
    exact = index.search("怎么开发票")[0]
    assert exact.entry_id == "invoice"
    unrelated = index.search("今天天气怎么样")
    assert all(0.0 <= m.score <= 1.0 for m in unrelated)
    assert exact.score > max(m.score for m in unrelated)


def test_english_query() -> None:
    assert build().search("I forgot my password")[0].entry_id == "password"


def test_incremental_add_remove() -> None:
    index = build()
    index.remove("invoice")
    assert all(m.entry_id != "invoice" for m in index.search("怎么开发票"))
    index.add("invoice", ["开发票怎么操作"])
    assert index.search("怎么开发票")[0].entry_id == "invoice"
    index.add("invoice", ["电子发票下载"])  # re-adding replaces the variants
    assert index.search("电子发票下载")[0].question == "电子发票下载"
    assert len(index) == len(FAQ)
    index.remove("missing")  # no-op


def test_answers_are_never_indexed() -> None:
    index = FaqIndex()
    index.add("a", ["营业时间"])
    assert index.search("周一到周五九点到五点") == [] or index.search("周一到周五九点到五点")[0].score < 0.5


def test_empty_index_and_query() -> None:
    assert FaqIndex().search("hello") == []
    assert build().search("   ") == []


def test_build_1000_entries_fast() -> None:
    entries = [
        (f"e{i}", [f"第{i}号产品怎么使用", f"产品{i}的保修期多久", f"how to use product {i}"]) for i in range(1000)
    ]
    FaqIndex().search("warm up jieba")  # the one-time dictionary load is not part of the build
    index = FaqIndex()
    index.add("warm", ["预热分词"])
    start = time.perf_counter()
    index.add_many(entries)
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0, elapsed
    assert index.search("第512号产品怎么使用")[0].entry_id == "e512"


def test_calibrate_refits_coefficients() -> None:
    index = build()
    pairs = [("退货怎么弄", "怎么退货", 1), ("退货怎么弄", "怎么开发票", 0), ("发票怎么开", "怎么开发票", 1),
             ("发票怎么开", "什么时候发货", 0)]  # fmt: skip
    coef = index.calibrate(pairs)
    assert len(coef) == 4 and coef[1] > 0
