"""OmniDesk's offline, CPU-only natural-language understanding (pure Python: no database, no web framework).

Typical use per tenant::

    from omnidesk.bot.nlu import (IntentClassifier, FaqIndex, analyze_sentiment, extract_entities,
                                  decide, PolicySettings, BotState, load_default_encoder)

    encoder = load_default_encoder()            # None when the packaged models are absent
    model = IntentClassifier.train(texts, labels, encoder=encoder, oos_label="oos")
    blob = model.to_bytes()                      # store per tenant/version; load only your own bytes
    model = IntentClassifier.from_bytes(blob, encoder=encoder)

    index = FaqIndex(encoder=encoder)
    index.add("faq-1", ["怎么退货", "如何申请退货"])   # questions and variants, never answers

    decision = decide(text, faq=index.search(text), intent=model.predict(text),
                      sentiment=analyze_sentiment(text), entities=extract_entities(text),
                      state=BotState(), customer_tags=["vip"], settings=PolicySettings())
"""

from .answer_policy import OperatingPoint
from .encoders import ConcatEncoder, E5Encoder, Encoder, HashingEncoder, USEEncoder, load_default_encoder
from .entities import Entity, InvalidPatternError, TenantPattern, compile_tenant_pattern, extract_entities
from .evaluate import evaluate_intents, evaluate_pairs
from .intents import IntentClassifier, IntentConfig, IntentPrediction, TrainingError
from .normalize import detect_language, normalize, to_simplified
from .pairs import PairClassifier
from .policy import (
    MESSAGES,
    BotState,
    Decision,
    Judgement,
    PolicySettings,
    decide,
    is_human_request,
    smalltalk_kind,
)
from .retrieval import FaqIndex, FaqMatch
from .sentiment import Sentiment, analyze_sentiment
from .tokenize import Tokenizer, get_tokenizer

__all__ = [
    "MESSAGES",
    "BotState",
    "ConcatEncoder",
    "Decision",
    "E5Encoder",
    "Encoder",
    "Entity",
    "FaqIndex",
    "FaqMatch",
    "HashingEncoder",
    "IntentClassifier",
    "IntentConfig",
    "IntentPrediction",
    "InvalidPatternError",
    "Judgement",
    "OperatingPoint",
    "PairClassifier",
    "PolicySettings",
    "Sentiment",
    "TenantPattern",
    "Tokenizer",
    "TrainingError",
    "USEEncoder",
    "analyze_sentiment",
    "compile_tenant_pattern",
    "decide",
    "detect_language",
    "evaluate_intents",
    "evaluate_pairs",
    "extract_entities",
    "get_tokenizer",
    "is_human_request",
    "load_default_encoder",
    "normalize",
    "smalltalk_kind",
    "to_simplified",
]
