"""A reviewed conversation saved as an end-to-end test story: Rasa reads it back with the
domain, the user's words are there (personal data replaced), corrections are applied."""

from __future__ import annotations

import yaml

from bot.designer import inbox
from bot.designer.changes import ChangeStore
from bot.designer.conversations import Entity
from bot.designer.stories import Correction, story_yaml
from tests.designer.conftest import NOW, PERSONAL, REPO


def _conv(reader, sender):
    for conv in inbox.conversations(reader, NOW - 86400, NOW + 60, now=NOW):
        if conv.sender_id == sender:
            return reader.session(conv.id), conv
    raise AssertionError(sender)


def _read_with_rasa(story: str):
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader

    domain = Domain.load(str(REPO / "domain.yml"))
    text = 'version: "3.1"\nstories:\n' + story
    return YAMLStoryReader(domain).read_from_string(text)


def test_story_of_a_corrected_fallback_conversation(reader):
    session, conv = _conv(reader, "tg-1002")
    first = conv.user_messages[0]
    story = story_yaml(session, conv, {first.event_id: Correction("find_store", ())})
    steps = yaml.safe_load(story)[0]["steps"]
    users = [(s["user"].strip(), s["intent"]) for s in steps if "user" in s]
    assert users[0] == ("chỗ nào làm lại sim gần nhà", "find_store")
    assert users[-1] == ("[quận 3](location)", "inform")
    actions = [s["action"] for s in steps if "action" in s]
    assert actions == ["store_form", "store_form", "action_find_stores"]
    parsed = _read_with_rasa(story)
    assert len(parsed) == 1 and parsed[0].events
    # without the correction: what Rasa kept, the customer's clarified rephrasing
    plain = yaml.safe_load(story_yaml(session, conv))[0]["steps"]
    assert [(s["user"].strip(), s["intent"]) for s in plain if "user" in s][0] == (
        "tìm cửa hàng", "find_store")


def test_story_replaces_personal_data(reader):
    session, conv = _conv(reader, "tg-1003")
    story = story_yaml(session, conv)
    for value in PERSONAL:
        assert value.lower() not in story.lower(), value
    steps = yaml.safe_load(story)[0]["steps"]
    slots = {k: v for s in steps if "slot_was_set" in s for d in s["slot_was_set"]
             for k, v in d.items()}
    assert slots["verified_msisdn"] == "0901000001" and slots["phone_number"] == "0901000001"
    assert slots["upd_full_name"] == "Nguyễn Văn An" and slots["otp_code"] == "123456"
    users = [s["user"].strip() for s in steps if "user" in s]
    assert users[0] == "cập nhật thông tin cho số [0901000001](phone_number)"
    _read_with_rasa(story)


def test_saved_story_is_a_pending_change_then_a_test_file(reader, repo_copy):
    session, conv = _conv(reader, "tg-1001")
    store = ChangeStore()
    change = store.propose_story(story_yaml(session, conv), "designer:mai",
                                 {"conversation": conv.id})
    assert change.flags == []
    _, where = store.apply(change.id)
    assert where.startswith("tests/stories/test_designer.yml:")
    data = yaml.safe_load((repo_copy / "tests/stories/test_designer.yml").read_text("utf-8"))
    assert data["version"] == "3.1" and len(data["stories"]) == 1
    # a second one is appended to the same file
    change = store.propose_story(story_yaml(session, conv, name="second"), "x")
    store.apply(change.id)
    data = yaml.safe_load((repo_copy / "tests/stories/test_designer.yml").read_text("utf-8"))
    assert [s["story"] for s in data["stories"]][1] == "second"


def test_story_checks(repo_copy):
    story = ("- story: x\n  steps:\n  - user: |\n      tiệm sim gần đây\n"
             "    intent: nlu_fallback\n  - action: action_two_stage_fallback\n"
             "  - user: |\n      hi\n    intent: order_pizza\n")
    flags = ChangeStore().propose_story(story, "x").flags
    assert sorted(f.code for f in flags) == ["story_fallback", "unknown_intent"]
    assert ChangeStore().propose_story("- story: [", "x").flags[0].code == "story_yaml"


def test_correction_entities_are_on_the_stand_in_text(reader):
    session, conv = _conv(reader, "tg-1003")
    first = conv.user_messages[0]
    safe = "cập nhật thông tin cho số 0901000001"
    fix = Correction("update_subscriber_info", (Entity("phone_number", "0901000001",
                                                       safe.index("0901"), len(safe)),))
    story = story_yaml(session, conv, {first.event_id: fix})
    assert "[0901000001](phone_number)" in story
