"""The Rasa graph components, trained, persisted and loaded in-process."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.classifier import LinearIntentClassifier
from bot.nlu.extractor import VietnameseEntityExtractor
from bot.nlu.normalizer import TEXT_FOLDED, TEXT_NORM, VietnameseNormalizer
from bot.nlu.tokenizer import VietnameseTokenizer

CONTEXT = ExecutionContext(GraphSchema({}), "test")

TRAIN = {
    "cancel_service": ["hủy dịch vụ nhạc chờ", "tôi muốn hủy gói cước", "hủy giúp em dịch vụ",
                       "không muốn dùng dịch vụ này nữa, hủy đi", "cắt dịch vụ giúp tôi"],
    "register_service": ["đăng ký gói c90n", "tôi muốn đăng ký dịch vụ", "mở dịch vụ mới",
                         "cài nhạc chờ cho tôi", "đăng ký gói data"],
    "greet": ["xin chào", "chào em", "chào bạn", "alo", "hello"],
}


def training_data() -> TrainingData:
    msgs = [Message.build(text=t, intent=i) for i, texts in TRAIN.items() for t in texts]
    msgs += [Message.build(text=t, intent="faq", intent_response_key="faq/decree_49")
             for t in ["nghị định 49 là gì", "tại sao phải cập nhật theo nghị định 49"]]
    msgs.append(Message.build(
        text="hủy xem phim giúp em", intent="cancel_service",
        entities=[{"entity": "service", "start": 4, "end": 12, "value": "MOBITV"}]))
    msgs.append(Message.build(
        text="cửa hàng ở phố cổ", intent="find_store",
        entities=[{"entity": "location", "start": 11, "end": 17, "value": "phố cổ"}]))
    return TrainingData(training_examples=msgs)


def preprocess(messages: list[Message]) -> list[Message]:
    VietnameseNormalizer({}).process(messages)
    VietnameseTokenizer(VietnameseTokenizer.get_default_config()).process(messages)
    return messages


def test_normalizer_adds_attributes_and_keeps_text() -> None:
    msg = Message.build(text="Ad ơi huỷ dv nhạc chờờ giúp e")
    VietnameseNormalizer({}).process([msg])
    assert msg.get("text") == "Ad ơi huỷ dv nhạc chờờ giúp e"
    assert msg.get(TEXT_NORM) == "anh chị ơi huỷ dịch vụ nhạc chờ giúp em"
    assert msg.get(TEXT_FOLDED) == "anh chi oi huy dich vu nhac cho giup em"


def test_tokenizer_offsets_are_original_and_lemmas_folded() -> None:
    (msg,) = preprocess([Message.build(text="Hủy dv nhạc chờ")])
    tokens = msg.get("text_tokens")
    assert [(t.text, t.start, t.end, t.lemma) for t in tokens] == [
        ("Hủy", 0, 3, "huy"), ("dv", 4, 6, "dich vu"), ("nhạc", 7, 11, "nhac"),
        ("chờ", 12, 15, "cho")]


def test_tokenizer_split_mode_keeps_every_space_separated_token() -> None:
    tok = VietnameseTokenizer({**VietnameseTokenizer.get_default_config(), "mode": "split"})
    msg = Message.build(text="đặt bàn lúc 7 giờ , tối nay")
    tok.process([msg])
    assert [t.text for t in msg.get("text_tokens")] == ["đặt", "bàn", "lúc", "7", "giờ", ",",
                                                        "tối", "nay"]


def test_classifier_trains_persists_loads_and_handles_styles(tmp_path: Path) -> None:
    storage = LocalModelStorage(tmp_path)
    resource = Resource("clf")
    data = training_data()
    preprocess(data.training_examples)
    clf = LinearIntentClassifier.create({}, storage, resource, CONTEXT)
    clf.train(data)
    loaded = LinearIntentClassifier.load({}, storage, resource, CONTEXT)
    msgs = preprocess([Message.build(text=t) for t in
                       ["huy dich vu nhac cho", "ko mun dung dv nay nua huy di", "chaooo em",
                        "dang ky goi c90n", "nghi dinh 49 la gi"]])
    loaded.process(msgs)
    assert [m.get("intent")["name"] for m in msgs] == [
        "cancel_service", "cancel_service", "greet", "register_service", "faq"]
    ranking = msgs[0].get("intent_ranking")
    assert abs(sum(r["confidence"] for r in ranking) - 1.0) < 1e-6
    assert all("/" not in r["name"] for r in ranking)


def test_loaded_classifier_layout_changes_no_probability(tmp_path: Path) -> None:
    """fast_layout (column-major coefficients, no copy per message) gives bit-identical
    probabilities."""
    import copy

    import numpy as np

    from bot.nlu.classifier import fast_layout

    storage = LocalModelStorage(tmp_path)
    resource = Resource("clf")
    data = training_data()
    preprocess(data.training_examples)
    LinearIntentClassifier.create({}, storage, resource, CONTEXT).train(data)
    loaded = LinearIntentClassifier.load({}, storage, resource, CONTEXT)
    assert loaded.model is not None and loaded.model.coef_.flags["F_CONTIGUOUS"]
    row_major = copy.deepcopy(loaded.model)
    row_major.coef_ = np.ascontiguousarray(row_major.coef_)
    texts = ["huy dich vu nhac cho", "chaooo em", "dang ky goi c90n", "nghi dinh 49 la gi",
             "cửa hàng ở quận 3 ở đâu?", "0901234567", "ok"]
    assert loaded.features is not None
    for text in texts:
        msgs = preprocess([Message.build(text=text)])
        x = loaded.features.transform([msgs[0].get("text_folded")], [msgs[0].get("text_norm")])
        assert np.array_equal(loaded.model.predict_proba(x), row_major.predict_proba(x))
    assert fast_layout(None) is None


def test_extractor_learns_aliases_persists_and_filters_by_intent(tmp_path: Path) -> None:
    storage = LocalModelStorage(tmp_path)
    resource = Resource("ext")
    ext = VietnameseEntityExtractor.create({}, storage, resource, CONTEXT)
    ext.train(training_data())
    loaded = VietnameseEntityExtractor.load({}, storage, resource, CONTEXT)
    assert loaded.service_aliases["xem phim"] == "MOBITV"
    msg = Message.build(text="hủy xem phim và nhạc chờ, số 0901234567")
    msg.set("intent", {"name": "cancel_service", "confidence": 1.0})
    loaded.process([msg])
    got = [(e["entity"], e["value"], e["extractor"]) for e in msg.get("entities")]
    assert got == [("service", "MOBITV", "VietnameseEntityExtractor"),
                   ("service", "FUNRING", "VietnameseEntityExtractor"),
                   ("phone_number", "0901234567", "VietnameseEntityExtractor")]
    # a generic service word in an unrelated question is not a service entity
    assert loaded.extract("em đọc báo thấy lộ dữ liệu", intent="faq") == []
    assert [e["value"] for e in loaded.extract("em đọc báo", intent="register_service")] == [
        "TIN24H"]
    # a place read with a task that has no use for one is dropped; in small talk it is a
    # place (the dialogue does not take it as the customer's: domain.yml), in a store
    # question it is
    assert loaded.extract("Đà Lạt có mưa không", intent="cancel_service") == []
    assert [e["value"] for e in loaded.extract("Đà Lạt có mưa không",
                                               intent="out_of_scope")] == ["Đà Lạt"]
    assert [e["value"] for e in loaded.extract("cửa hàng ở phố cổ", intent="find_store")] == [
        "phố cổ"]


@pytest.mark.parametrize("text", ["", "   "])
def test_components_accept_empty_text(text: str) -> None:
    msg = Message.build(text=text)
    VietnameseNormalizer({}).process([msg])
    assert msg.get(TEXT_NORM) in (None, "")


@pytest.mark.parametrize(("text", "place"), [("Cầu Giấy", "Cầu Giấy"), ("cau giay a", "cau giay"),
                                             ("em ở quận 3 nhé", "quận 3")])
def test_a_bare_place_is_an_answer_whatever_the_classifier_said(tmp_path: Path, text: str,
                                                                place: str) -> None:
    ext = VietnameseEntityExtractor.create({}, LocalModelStorage(tmp_path), Resource("e"),
                                           CONTEXT)
    msg = Message.build(text=text)
    msg.set("intent", {"name": "faq", "confidence": 0.4})
    msg.set("intent_ranking", [{"name": "faq", "confidence": 0.4},
                               {"name": "inform", "confidence": 0.2}])
    ext.process([msg])
    assert msg.get("intent") == {"name": "inform", "confidence": 1.0}
    assert [(r["name"], r["confidence"]) for r in msg.get("intent_ranking")] == [
        ("inform", 1.0), ("faq", 0.0)]
    assert [(e["entity"], e["value"]) for e in msg.get("entities")] == [("location", place)]


@pytest.mark.parametrize("text", ["Đà Lạt có mưa không", "tôi muốn hủy nhạc chờ", "Hà Nội và Huế"])
def test_a_place_inside_a_sentence_does_not_change_the_intent(tmp_path: Path, text: str) -> None:
    ext = VietnameseEntityExtractor.create({}, LocalModelStorage(tmp_path), Resource("e"),
                                           CONTEXT)
    msg = Message.build(text=text)
    msg.set("intent", {"name": "out_of_scope", "confidence": 0.9})
    ext.process([msg])
    assert msg.get("intent")["name"] == "out_of_scope"


def test_a_place_in_an_out_of_scope_request_is_a_place_and_a_bare_one_an_answer(
        tmp_path: Path) -> None:
    ext = VietnameseEntityExtractor.create({}, LocalModelStorage(tmp_path), Resource("e"),
                                           CONTEXT)
    msg = Message.build(text="đặt giúp tôi vé máy bay đi Đà Nẵng")
    msg.set("intent", {"name": "out_of_scope", "confidence": 0.9})
    ext.process([msg])
    assert msg.get("intent")["name"] == "out_of_scope"
    assert [(e["entity"], e["value"]) for e in msg.get("entities")] == [("location", "Đà Nẵng")]
    bare = Message.build(text="Đà Nẵng")
    bare.set("intent", {"name": "out_of_scope", "confidence": 0.6})
    ext.process([bare])
    assert bare.get("intent")["name"] == "inform"


@pytest.mark.parametrize("text", ["", "   "])
def test_classifier_gives_blank_text_no_intent(tmp_path: Path, text: str) -> None:
    clf = LinearIntentClassifier.create(LinearIntentClassifier.get_default_config(),
                                        LocalModelStorage(tmp_path), Resource("c"), CONTEXT)
    clf.train(TrainingData(training_examples=preprocess(training_data().training_examples)))
    msg = Message.build(text=text)
    clf.process(preprocess([msg]))
    assert msg.get("intent") == {"name": None, "confidence": 0.0}
    assert msg.get("intent_ranking") == []
