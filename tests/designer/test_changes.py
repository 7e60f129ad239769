"""The change writer on a copy of the repository's data: pending changes in
.data/designer/changes, applied into the right topic file in the lint's style, flagged when
already covered or contradicting another example; response variations; test stories."""

from __future__ import annotations

import yaml

from bot.designer.changes import ChangeError, ChangeStore
from bot.designer.conversations import Entity
from bot.nlu.lint import check_duplicates, load_items


def _entity(text: str, span: str, name: str, value: str | None = None) -> Entity:
    start = text.index(span)
    return Entity(name, value or span, start, start + len(span))


def test_example_waits_in_the_changes_folder_then_lands_in_its_topic_file(repo_copy):
    store = ChangeStore()
    before = (repo_copy / "data/nlu/06_stores.yml").read_text(encoding="utf-8")
    text = "chỗ nào làm lại sim gần [Gò Vấp] vậy"  # brackets cannot reach the markup
    change = store.propose_example("find_store", text,
                                   [_entity(text, "Gò Vấp", "location")], "designer:mai")
    assert change.flags == []
    path = repo_copy / ".data/designer/changes" / f"{change.id}.yml"
    saved = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert saved["intent"] == "find_store" and saved["target"] == "data/nlu/06_stores.yml"
    assert saved["line"] == "chỗ nào làm lại sim gần ([Gò Vấp](location)) vậy"
    assert path.read_text(encoding="utf-8").startswith("# Thay đổi đang chờ duyệt")
    # nothing in data/ yet
    assert (repo_copy / "data/nlu/06_stores.yml").read_text(encoding="utf-8") == before

    applied, where = store.apply(change.id)
    after = (repo_copy / "data/nlu/06_stores.yml").read_text(encoding="utf-8").splitlines()
    number = int(where.split(":")[1])
    assert where.startswith("data/nlu/06_stores.yml:")
    assert after[number - 1] == "    - chỗ nào làm lại sim gần ([Gò Vấp](location)) vậy"
    # the last example of find_store: the next line closes the block
    assert not after[number].startswith("    - ")
    assert store.pending() == [] and not path.exists()
    items, _ = load_items([repo_copy / "data/nlu"])
    mine = [i for i in items if "làm lại sim gần" in i.text]
    assert [(i.label, i.entities) for i in mine] == [
        ("find_store", (("location", "Gò Vấp", "Gò Vấp"),))]
    assert check_duplicates(items) == []


def test_service_synonym_and_json_value_markup(repo_copy):
    store = ChangeStore()
    text = "ad ơi huỷ cái nhạc chờ với cả gói xyz nha"
    change = store.propose_example("cancel_service", text, [
        _entity(text, "nhạc chờ", "service", "FUNRING")], "cli:test")
    assert change.body["line"] == "ad ơi huỷ cái [nhạc chờ](service) với cả gói xyz nha"
    text2 = "huỷ cái dịch vụ nhạc nền giúp em"
    change2 = store.propose_example("cancel_service", text2, [
        _entity(text2, "nhạc nền", "service", "FUNRING")], "cli:test")
    assert change2.body["line"] == (
        'huỷ cái dịch vụ [nhạc nền]{"entity": "service", "value": "FUNRING"} giúp em')
    assert change2.flags == []


def test_duplicates_and_contradictions_are_flagged(repo_copy):
    store = ChangeStore()
    same = store.propose_example("find_store", "tôi muốn tìm cửa hàng gần nhà", [], "x")
    assert [f.code for f in same.flags] == ["covered"]
    assert "data/nlu/06_stores.yml:13" in same.flags[0].message
    other = store.propose_example("greet", "Toi muon tim cua hang gan nha!", [], "x")
    # also contradicts the pending change above
    assert [f.code for f in other.flags] == ["contradiction", "pending_contradiction"]
    assert "find_store" in other.flags[0].message and other.blocked
    text = "Cửa hàng gần nhất ở Quận 5 ở đâu?"
    pattern = store.propose_example("find_store", text, [_entity(text, "Quận 5", "location")],
                                    "x")
    assert [(f.code, f.level) for f in pattern.flags] == [("covered_pattern", "warning")]
    wrong = store.propose_example("check_balance", text,
                                  [_entity(text, "Quận 5", "location")], "x")
    assert "contradiction_pattern" in [f.code for f in wrong.flags]
    # a second pending change with the same sentence
    store.propose_example("install_app", "cài ứng dụng kiểu gì vậy em ơi xyz", [], "x")
    twice = store.propose_example("install_app", "cai ung dung kieu gi vay em oi xyz", [], "x")
    assert "pending_duplicate" in [f.code for f in twice.flags]
    # blocked changes are not applied, and the data is untouched
    before = (repo_copy / "data/nlu/01_shared.yml").read_text(encoding="utf-8")
    try:
        store.apply(other.id)
        raise AssertionError("a contradiction was applied")
    except ChangeError as exc:
        assert "find_store" in str(exc)
    assert (repo_copy / "data/nlu/01_shared.yml").read_text(encoding="utf-8") == before


def test_unknown_intent_entity_and_bad_values(repo_copy):
    store = ChangeStore()
    unknown = store.propose_example("order_pizza", "cho một cái pizza", [], "x")
    assert [f.code for f in unknown.flags] == ["unknown_intent"]
    text = "số của em là 0123"
    bad = store.propose_example("inform", text, [_entity(text, "0123", "phone_number")], "x")
    assert [f.code for f in bad.flags] == ["entity_value"]
    text = "tên em là Mai"
    name = store.propose_example("inform", text, [_entity(text, "Mai", "person")], "x")
    assert "unknown_entity" in [f.code for f in name.flags]


def test_response_variation(repo_copy):
    store = ChangeStore()
    change = store.propose_response("utter_thank", "Dạ, em rất vui được giúp {brand} ạ!", "x")
    assert change.flags == []
    bad = store.propose_response("utter_thank", "Dạ {service_name} ạ", "x")
    assert [f.code for f in bad.flags] == ["variables"]
    missing = store.propose_response("utter_nothing", "Dạ", "x")
    assert [f.code for f in missing.flags] == ["unknown_response"]
    _, where = store.apply(change.id)
    lines = (repo_copy / "domain.yml").read_text(encoding="utf-8").splitlines()
    number = int(where.split(":")[1])
    assert lines[number - 1] == '  - text: "Dạ, em rất vui được giúp {brand} ạ!"'
    assert lines[number - 2].startswith("  - text: \"Dạ không có gì ạ.")
    assert lines[number].startswith("  utter_iamabot:")
    domain = yaml.safe_load((repo_copy / "domain.yml").read_text(encoding="utf-8"))
    assert len(domain["responses"]["utter_thank"]) == 2


def test_discard_and_unknown_ids(repo_copy):
    store = ChangeStore()
    change = store.propose_example("greet", "chào buổi tối em nhé xyz", [], "x")
    store.discard(change.id)
    assert store.pending() == []
    for bad in ("../../etc/passwd", "nope", change.id):
        try:
            store.discard(bad)
            raise AssertionError(bad)
        except ChangeError:
            pass
