"""The learned (spaCy) entity extractor: tags, lexicon, training, persistence, merging."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.extractor import VietnameseEntityExtractor
from bot.nlu.learned_entities import LEARNED_ENTITIES, LearnedEntityExtractor
from bot.nlu.normalizer import VietnameseNormalizer
from bot.nlu.spacy_ner import (
    Lexicon,
    Sample,
    SpanRoleCRF,
    jackknife_lexicon,
    role_direction,
    spans_to_tags,
    tags_to_spans,
    training_epochs,
)
from bot.nlu.tokenizer import VietnameseTokenizer

CONTEXT = ExecutionContext(GraphSchema({}), "test")
# Small and fast: what is tested is behaviour, not accuracy.
FAST = {"width": 64, "depth": 2, "rows": 1000, "epochs": 30, "hidden_width": 32,
        "ensemble": 1}


@pytest.mark.parametrize("scheme", ["bio", "biluo"])
def test_spans_and_tags_round_trip(scheme: str) -> None:
    spans = [(0, 1, "a"), (2, 5, "b"), (5, 6, "b")]
    tags = spans_to_tags(7, spans, scheme)
    if scheme == "biluo":
        assert tags == ["U-a", "O", "B-b", "I-b", "L-b", "U-b", "O"]
    else:
        assert tags == ["B-a", "O", "B-b", "I-b", "I-b", "B-b", "O"]
    assert tags_to_spans(tags) == spans


def test_small_training_sets_get_enough_updates_large_ones_their_epochs() -> None:
    # 40 messages in batches of 32+: 2 batches per epoch -> 150 epochs for 300 updates
    assert training_epochs(40, 10, 300, 32, 128) == 150
    # PhoATIS-sized data already makes far more than 300 updates in 10 epochs
    assert training_epochs(4478, 10, 300, 32, 128) == 10
    assert training_epochs(40, 10, 0, 32, 128) == 10
    assert training_epochs(0, 10, 300, 32, 128) == 10


def test_stray_inside_tags_start_a_span_as_in_conlleval() -> None:
    assert tags_to_spans(["I-x", "I-x", "O", "L-y", "B-z", "I-y"]) == [
        (0, 2, "x"), (3, 4, "y"), (4, 5, "z"), (5, 6, "y")]


def test_lexicon_tags_the_longest_known_span_and_keeps_rule_tags() -> None:
    lex = Lexicon.from_samples([
        Sample(["bay", "từ", "buôn", "ma", "thuột"], spans=[(2, 5, "fromloc.city_name")]),
        Sample(["đến", "buôn", "ma"], spans=[(1, 3, "toloc.city_name")]),
        Sample(["ở", "Hà", "Nội"], spans=[(1, 3, "location")]),
    ])
    assert lex.tag(["tới", "Buon", "Ma", "Thuot", "nhé"]) == [
        "O", "B-city_name", "I-city_name", "I-city_name", "O"]
    # a tag the rules already gave is kept
    assert lex.tag(["ha", "noi"], ["B-phone_number", "O"]) == ["B-phone_number", "O"]


def test_jackknifed_lexicon_does_not_know_a_sentence_from_its_own_fold() -> None:
    samples = [Sample(["ở", f"chỗ{i}"], spans=[(1, 2, "location")]) for i in range(10)]
    tagged = jackknife_lexicon(samples, folds=5, seed=1)
    # every place occurs once: no sample can see its own place in the lexicon
    assert all(s.lists == ["O", "O"] for s in tagged)


STORE_PLACES = ["Cầu Giấy", "Thủ Đức", "Hải Phòng", "Đà Lạt", "Long Biên", "Gò Vấp", "Huế",
                "Bắc Ninh", "Quy Nhơn", "Tân Bình", "Nha Trang", "Biên Hòa"]
TEMPLATES = ["cửa hàng ở {} ở đâu", "tìm cửa hàng gần {}", "cho mình địa chỉ cửa hàng tại {}",
             "{} có cửa hàng nào không"]


def tiny_training_data() -> TrainingData:
    msgs = []
    for place in STORE_PLACES:
        for template in TEMPLATES:
            text = template.format(place)
            start = text.index(place)
            msgs.append(Message.build(text=text, intent="find_store", entities=[
                {"entity": "location", "start": start, "end": start + len(place),
                 "value": place}]))
    for text in ["hủy dịch vụ nhạc chờ", "tôi muốn đăng ký gói cước", "xin chào", "cảm ơn em",
                 "kiểm tra tài khoản", "mất sim rồi", "cho gặp nhân viên", "tạm biệt"]:
        msgs.append(Message.build(text=text, intent="other"))
    data = TrainingData(training_examples=msgs)
    preprocess(data.training_examples)
    return data


def preprocess(messages: list[Message]) -> list[Message]:
    VietnameseNormalizer({}).process(messages)
    VietnameseTokenizer(VietnameseTokenizer.get_default_config()).process(messages)
    return messages


@pytest.mark.slow
def _flight(words: str, roles: list[tuple[str, str]]) -> Sample:
    """A sentence and the role of each place in it, in order (places are one word)."""
    toks = words.split()
    spans = []
    for place, label in roles:
        i = toks.index(place)
        spans.append((i, i + 1, label))
    return Sample(toks, None, "flight", None, spans)


CITIES = ["huế", "vinh", "pleiku", "berlin", "paris", "tokyo", "seoul", "rome"]


def test_span_roles_are_decided_from_the_whole_sentence() -> None:
    train = []
    for a, b in zip(CITIES, CITIES[1:] + CITIES[:1], strict=True):
        train += [
            _flight(f"bay từ {a} đến {b}", [(a, "fromloc.city_name"), (b, "toloc.city_name")]),
            _flight(f"bay đến {b} từ {a}", [(b, "toloc.city_name"), (a, "fromloc.city_name")]),
            _flight(f"giao thông đường bộ ở {a}", [(a, "city_name")]),
        ]
    crf = SpanRoleCRF().fit(train)
    assert crf.trained and crf.types == {"city_name"}
    # unseen cities, the NER's labels wrong or bare: only the role changes
    words = ["bay", "đến", "hà_nội", "từ", "đà_lạt"]
    assert crf.relabel(words, [(4, 5, "toloc.city_name"), (2, 3, "city_name")], "flight") == [
        (2, 3, "toloc.city_name"), (4, 5, "fromloc.city_name")]
    words = ["bay", "từ", "hà_nội", "đến", "đà_lạt"]
    assert crf.relabel(words, [(2, 3, "toloc.city_name"), (4, 5, "toloc.city_name")],
                       "flight") == [(2, 3, "fromloc.city_name"), (4, 5, "toloc.city_name")]
    # a type with one label only, or unknown to the CRF, is left as it is
    assert crf.relabel(words, [(2, 3, "airline_name")], "flight") == [(2, 3, "airline_name")]


def test_role_direction_is_the_role_without_its_date_or_time_part() -> None:
    assert role_direction("arrive_date.day_name") == "arrive"
    assert role_direction("arrive_time.period_of_day") == "arrive"
    assert role_direction("depart_time.time") == "depart"
    assert role_direction("fromloc.city_name") == "fromloc"
    assert role_direction("city_name") == "-"


def _dated(words: str, spans: list[tuple[str, str]]) -> Sample:
    """A sentence and its spans given by their (unique) text, in order."""
    toks = words.split()
    out = []
    for text, label in spans:
        part = text.split()
        i = next(k for k in range(len(toks)) if toks[k:k + len(part)] == part)
        out.append((i, i + len(part), label))
    return Sample(toks, None, "flight", None, out)


DAYS = ["thứ hai", "thứ ba", "thứ tư", "thứ năm", "thứ sáu", "thứ bảy"]


@pytest.mark.parametrize("labels", ["direction", "full"])
def test_a_role_cue_learned_on_one_type_is_used_for_another(labels: str) -> None:
    """'hạ cánh' (land) before a date means arrive. The training data shows it with day
    names only; day numbers are seen with both roles, but never after a cue. With
    direction labels the cue is shared by every type, so 'hạ cánh vào ngày 5' is an
    arrival; with full labels each label must learn the cue from its own examples."""
    train = []
    for day in DAYS:
        train += [
            _dated(f"bay đi huế hạ cánh vào {day}", [(day, "arrive_date.day_name")]),
            _dated(f"bay đi huế cất cánh vào {day}", [(day, "depart_date.day_name")]),
            _dated(f"bay đi huế vào {day}", [(day, "depart_date.day_name")]),
        ]
    for n in range(1, 7):
        train += [
            _dated(f"bay đi huế vào ngày {n}", [(f"ngày {n}", "depart_date.day_number")]),
            _dated(f"chuyến về huế ngày {n}", [(f"ngày {n}", "arrive_date.day_number")]),
        ]
    train += [_dated("bay đi huế vào ngày 9", [("ngày 9", "depart_date.day_number")])] * 3
    crf = SpanRoleCRF(labels=labels).fit(train)
    assert crf.types == {"day_name", "day_number"}
    words = ["bay", "đi", "huế", "hạ", "cánh", "vào", "ngày", "5"]
    found = crf.relabel(words, [(6, 8, "depart_date.day_number")], "flight")
    if labels == "direction":
        assert found == [(6, 8, "arrive_date.day_number")]
        assert crf.label_of["day_number"] == {"arrive": "arrive_date.day_number",
                                              "depart": "depart_date.day_number"}
    else:
        assert found == [(6, 8, "depart_date.day_number")]
    # the type is kept whatever the direction: a day name stays a day name
    assert crf.relabel(["bay", "đi", "huế", "cất", "cánh", "vào", "thứ", "hai"],
                       [(6, 8, "arrive_date.day_name")], "flight") == [
        (6, 8, "depart_date.day_name")]


def test_span_roles_are_not_trained_when_no_type_has_roles() -> None:
    """Our own data (location, service, ...) has no roles: nothing is trained."""
    crf = SpanRoleCRF().fit([Sample(["ở", "huế"], None, "find_store", None,
                                    [(1, 2, "location")])])
    assert not crf.trained
    assert crf.relabel(["ở", "huế"], [(1, 2, "location")], None) == [(1, 2, "location")]


def test_trains_persists_loads_and_finds_an_unseen_place(tmp_path: Path) -> None:
    storage = LocalModelStorage(tmp_path)
    resource = Resource("learned")
    config = {**FAST, "rule_lists": False}
    ext = LearnedEntityExtractor.create(config, storage, resource, CONTEXT)
    ext.train(tiny_training_data())
    loaded = LearnedEntityExtractor.load(config, storage, resource, CONTEXT)
    assert loaded.ner is not None
    # Mộc Châu, Hội An and Sóc Trăng never occur in the training data
    msgs = preprocess([Message.build(text="tìm cửa hàng gần Mộc Châu"),
                       Message.build(text="cửa hàng ở Hội An ở đâu"),
                       Message.build(text="xin chào em"),
                       Message.build(text="cho mình địa chỉ cửa hàng tại Sóc Trăng")])
    for msg in msgs:
        msg.set("intent", {"name": "find_store" if "cửa" in msg.get("text") else "other",
                           "confidence": 1.0})
    loaded.process(msgs)
    got = [[(e["entity"], e["value"], e["extractor"]) for e in m.get("entities", [])]
           for m in msgs]
    assert got == [[("location", "Mộc Châu", "LearnedEntityExtractor")],
                   [("location", "Hội An", "LearnedEntityExtractor")], [],
                   [("location", "Sóc Trăng", "LearnedEntityExtractor")]]


def test_without_annotations_it_trains_nothing_and_finds_nothing(tmp_path: Path) -> None:
    storage = LocalModelStorage(tmp_path)
    ext = LearnedEntityExtractor.create(FAST, storage, Resource("l"), CONTEXT)
    data = TrainingData(training_examples=preprocess([Message.build(text="xin chào",
                                                                    intent="greet")]))
    ext.train(data)
    loaded = LearnedEntityExtractor.load(FAST, storage, Resource("l"), CONTEXT)
    (msg,) = loaded.process(preprocess([Message.build(text="cửa hàng ở Mộc Châu")]))
    assert msg.get("entities", []) == []


@pytest.mark.parametrize("text", ["", "   "])
def test_empty_messages_pass_through(tmp_path: Path, text: str) -> None:
    ext = LearnedEntityExtractor.create({**FAST, "add_to_entities": False},
                                        LocalModelStorage(tmp_path), Resource("l"), CONTEXT)
    (msg,) = ext.process(preprocess([Message.build(text=text)]))
    assert msg.get(LEARNED_ENTITIES) == []


# --------------------------------------------------------------------------- merging
def learned(text: str, *spans: tuple[str, str]) -> list[dict]:
    out = []
    for entity, typed in spans:
        start = text.index(typed)
        out.append({"entity": entity, "start": start, "end": start + len(typed),
                    "value": typed, "extractor": "LearnedEntityExtractor"})
    return out


def merged(tmp_path: Path, text: str, intent: str, *spans: tuple[str, str]) -> list[tuple]:
    ext = VietnameseEntityExtractor.create({}, LocalModelStorage(tmp_path), Resource("e"),
                                           CONTEXT)
    msg = Message.build(text=text)
    msg.set("intent", {"name": intent, "confidence": 0.9})
    msg.set(LEARNED_ENTITIES, learned(text, *spans))
    ext.process([msg])
    return [(e["entity"], e["value"], text[e["start"]:e["end"]]) for e in msg.get("entities")]


def test_a_generic_word_the_intent_filter_drops_is_kept_when_the_model_agrees(
        tmp_path: Path) -> None:
    text = "cài nhạc chuông chờ cho chị một bài nhạc trữ tình"
    assert merged(tmp_path, text, "out_of_scope") == []
    assert merged(tmp_path, text, "out_of_scope", ("service", "nhạc chuông chờ")) == [
        ("service", "FUNRING", "nhạc chuông chờ")]


def test_a_learned_service_is_mapped_to_its_catalog_code_or_dropped(tmp_path: Path) -> None:
    # typed glued: the rules miss it, the learned span resembles "nhạc chờ"
    assert merged(tmp_path, "huỷ cái nhạcchờ đi", "cancel_service") == []
    assert merged(tmp_path, "huỷ cái nhạcchờ đi", "cancel_service",
                  ("service", "nhạcchờ")) == [("service", "FUNRING", "nhạcchờ")]
    assert merged(tmp_path, "huỷ cái gói siêu tốc đi", "cancel_service",
                  ("service", "gói siêu tốc")) == []


def test_a_learned_place_keeps_its_typed_prefix_and_may_be_a_bare_answer(
        tmp_path: Path) -> None:
    text = "cửa hàng gần thành phố Vinh"
    assert merged(tmp_path, text, "find_store", ("location", "Vinh")) == [
        ("location", "thành phố Vinh", "thành phố Vinh")]
    ext = VietnameseEntityExtractor.create({}, LocalModelStorage(tmp_path), Resource("e"),
                                           CONTEXT)
    msg = Message.build(text="Vinh ạ")
    msg.set("intent", {"name": "faq", "confidence": 0.4})
    msg.set(LEARNED_ENTITIES, learned("Vinh ạ", ("location", "Vinh")))
    ext.process([msg])
    assert msg.get("intent")["name"] == "inform"


def test_numbers_stay_the_rules_and_new_slot_types_pass(tmp_path: Path) -> None:
    text = "số 0901234567 gói 12 tháng"
    assert merged(tmp_path, text, "register_service", ("phone_number", "0901234567 gói"),
                  ("duration", "12 tháng")) == [
        ("phone_number", "0901234567", "0901234567"), ("duration", "12 tháng", "12 tháng")]
