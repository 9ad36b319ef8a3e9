import jieba

from omnidesk.bot.nlu import Tokenizer, get_tokenizer
from omnidesk.bot.nlu.tokenize import char_ngrams


def test_english_words() -> None:
    assert Tokenizer().words("don't block my e-mail, ok?") == ["don't", "block", "my", "e-mail", "ok"]


def test_chinese_words_drop_punctuation() -> None:
    words = Tokenizer().words("我的快递到哪了？")
    assert "快递" in words
    assert "？" not in words


def test_user_dictionary_is_per_tenant() -> None:
    text = "花呗分期怎么还"
    plain = get_tokenizer().words(text)
    tenant = get_tokenizer(["呗分期怎"]).words(text)
    assert "呗分期怎" in tenant
    assert "呗分期怎" not in plain
    # jieba's global default dictionary is untouched
    assert "呗分期怎" not in jieba.lcut(text)
    assert get_tokenizer(["呗分期怎"]) is get_tokenizer(["呗分期怎"])


def test_features_include_words_and_char_ngrams() -> None:
    feats = Tokenizer().features("快递到哪了")
    assert "w:快递" in feats
    assert "c:递到" in feats
    en = Tokenizer().features("Refund")
    assert "w:refund" in en and "c:ref" in en


def test_char_ngrams() -> None:
    assert char_ngrams("abc", 1, 2) == ["a", "b", "c", "ab", "bc"]
    assert char_ngrams("ab cd", 2, 2, boundary=True) == [" a", "ab", "b ", " c", "cd", "d "]
