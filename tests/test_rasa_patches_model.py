"""bot/rasa_patches.py on the trained test model (loaded once, with the patches):

- patch 5: TED is not run when a rule or a memorised story decides with certainty, and
  the assistant predicts exactly the same actions as Rasa's own methods on the same
  loaded policies, at every prediction point of the training stories and rules and of
  unseen variants of them (where TED decides);
- patch 7: the response selector answers exactly as Rasa's whenever the FAQ intent is
  among the likely intents, and is not run for other messages."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from bot import rasa_patches

REPO = Path(__file__).resolve().parents[1]
PATCHES = ["ted_skipped_when_decided", "response_selector_when_needed"]


@pytest.fixture(scope="module")
def processor():
    from rasa.core.agent import load_agent

    model = os.environ.get("TEST_MODEL")
    if not model or not Path(model).exists():
        pytest.skip("TEST_MODEL is not set or missing (run `make test-py`, which trains it)")
    rasa_patches.revert()
    rasa_patches.apply(PATCHES)
    try:
        yield asyncio.run(load_agent(model_path=model)).processor
    finally:
        rasa_patches.revert()


def prediction_points(domain) -> list:
    """Prefix trackers of the training stories, each ending where an action is predicted,
    and for each user turn a variant with another intent (unseen: TED decides there)."""
    from rasa.shared.core.events import ActionExecuted, UserUttered
    from rasa.shared.core.generator import TrainingDataGenerator
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.shared.core.training_data.loading import load_data_from_resource
    from rasa.shared.core.training_data.structures import StoryGraph

    steps = []
    for folder in ("data/stories", "data/rules"):
        for path in sorted((REPO / folder).glob("*.yml")):
            steps += load_data_from_resource(str(path), domain)
    trackers = TrainingDataGenerator(StoryGraph(steps), domain, remove_duplicates=True,
                                     augmentation_factor=0).generate_story_trackers()
    intents = sorted(domain.intents)
    points, seen = [], set()
    for tracker in sorted(trackers, key=lambda t: t.sender_id):
        events = list(tracker.events)
        for i, event in enumerate(events):
            if not (isinstance(event, ActionExecuted) and i > 0):
                continue
            variants = [events[:i]]
            last = events[i - 1]
            if isinstance(last, UserUttered) and last.intent_name:
                other = intents[(intents.index(last.intent_name) + 7) % len(intents)] \
                    if last.intent_name in intents else intents[0]
                variants.append(events[:i - 1] + [UserUttered(
                    last.text, {"name": other, "confidence": 1.0}, last.entities)])
            for prefix in variants:
                key = tuple(str(e) for e in prefix)
                if key not in seen:
                    seen.add(key)
                    points.append(DialogueStateTracker.from_events(
                        tracker.sender_id, prefix, domain.slots))
    return points


def predict_all(processor, points) -> list[tuple[str, str | None, float]]:
    out = []
    for tracker in points:
        prediction = processor._predict_next_with_tracker(tracker)
        action = processor.domain.action_names_or_texts[prediction.max_confidence_index]
        out.append((action, prediction.policy_name, round(prediction.max_confidence, 6)))
    return out


def test_predictions_are_unchanged_and_ted_is_skipped(processor, monkeypatch):
    from rasa.core.policies.memoization import MemoizationPolicy
    from rasa.core.policies.rule_policy import RulePolicy
    from rasa.core.policies.ted_policy import TEDPolicy

    skipped: list[bool] = []
    original = rasa_patches._decided_without_ted

    def counting(*args, **kwargs):
        decided = original(*args, **kwargs)
        skipped.append(decided)
        return decided

    monkeypatch.setattr(rasa_patches, "_decided_without_ted", counting)
    points = prediction_points(processor.domain)
    patched = predict_all(processor, points)
    decided = list(skipped)
    # The path where TED still runs: nothing counts as certain, so TED decides everywhere.
    monkeypatch.setattr(rasa_patches, "_CERTAIN", 2.0)
    skipped.clear()
    undecided = predict_all(processor, points)
    assert skipped and not any(skipped)
    originals = {cls: rasa_patches.ORIGINALS[f"{cls.__name__}.predict_action_probabilities"]
                 for cls in (TEDPolicy, RulePolicy, MemoizationPolicy)}
    assert set_node_functions(processor, monkeypatch, originals) == 3
    skipped.clear()
    plain = predict_all(processor, points)
    assert skipped == []  # Rasa's own TED ran this time
    assert len(plain) > 100
    assert patched == plain and undecided == plain
    assert sum(decided) >= len(decided) // 3, f"TED skipped {sum(decided)}/{len(decided)}"


FAQ_LIKE = ["nghị định 49 là gì vậy", "sim chính chủ là sao ạ", "ảnh chân dung để làm gì",
            "tra cứu thông tin thuê bao như thế nào"]
OTHER = ["cho mình xem số dư tài khoản", "hủy dịch vụ funring", "cửa hàng gần nhất ở đâu",
         "ok cảm ơn em", "0901000001"]


def set_node_functions(processor, monkeypatch, functions: dict) -> int:
    """Point the loaded graph's nodes of these component classes at these functions (a
    graph node keeps the class's function it found when the model was loaded)."""
    changed = 0
    for node in processor.graph_runner._instantiated_nodes.values():
        for cls, fn in functions.items():
            if node._component_class is cls:
                monkeypatch.setattr(node, "_fn", fn)
                changed += 1
    return changed


def parse(processor, text: str) -> dict:
    from rasa.core.channels.channel import UserMessage

    return asyncio.run(processor.parse_message(UserMessage(text)))


def test_the_response_selector_runs_only_where_its_answer_is_used(processor, monkeypatch):
    from rasa.nlu.selectors.response_selector import ResponseSelector

    runs: list[int] = []
    real = rasa_patches.ORIGINALS["ResponseSelector.process"]

    def counted(self, messages):
        runs.append(len(messages))
        return real(self, messages)

    texts = FAQ_LIKE + OTHER
    monkeypatch.setitem(rasa_patches.ORIGINALS, "ResponseSelector.process", counted)
    rasa_patches._patch_response_selector()  # a wrapper around the counting original
    assert set_node_functions(processor, monkeypatch,
                              {ResponseSelector: ResponseSelector.process}) == 1
    patched = {text: parse(processor, text) for text in texts}
    ran = len(runs)
    set_node_functions(processor, monkeypatch, {ResponseSelector: real})
    plain = {text: parse(processor, text) for text in texts}
    needed = 0
    for text in texts:
        top = [r["name"] for r in plain[text]["intent_ranking"][:3]]
        assert patched[text]["intent"] == plain[text]["intent"], text
        if "faq" in top:
            needed += 1
            assert patched[text]["response_selector"] == plain[text]["response_selector"], text
        else:
            faq = patched[text]["response_selector"]["faq"]
            assert faq["response"]["confidence"] == 0.0 and faq["ranking"] == [], text
    assert ran == needed and 0 < needed < len(texts)
