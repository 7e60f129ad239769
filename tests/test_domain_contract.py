"""The lists of intents, slots and entities that Python code keeps must agree with the
domain and the rules (read through Rasa's own loaders). When a designer adds a flow, a
failure here names the list to extend (docs/designers.md, "Adding a flow")."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from rasa.shared.core.domain import Domain
from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
from rasa.shared.core.training_data.structures import RuleStep

REPO = Path(__file__).resolve().parent.parent


@lru_cache(maxsize=1)
def domain() -> Domain:
    return Domain.load(str(REPO / "domain.yml"))


def _rule_steps(name: str) -> list:
    reader = YAMLStoryReader(domain())
    steps = reader.read_from_file(str(REPO / "data" / "rules" / "identity.yml"))
    return [s for s in steps if isinstance(s, RuleStep) and s.block_name == name]


def test_protected_intents_are_the_ones_the_identity_rule_guards():
    """action_require_identity remembers the request only for PROTECTED_INTENTS: they must
    be exactly the intents of the rule that asks for the identity first."""
    from actions.identity import PROTECTED_INTENTS

    # Rasa expands the rule's `or` into one step per intent
    guarded = {event.intent_name
               for step in _rule_steps("personal data needs a verified number first")
               for event in step.events if getattr(event, "intent_name", None)}
    assert guarded, "the identity rule lists no intents"
    assert set(PROTECTED_INTENTS) == guarded


def test_digressions_are_intents():
    from actions.update_form import DIGRESSIONS

    assert set(DIGRESSIONS) <= set(domain().intents)


def test_flow_slots_cover_every_form_slot():
    """`stop` clears FLOW_SLOTS: every slot a form asks for must be one of them (or the
    identity, which stays verified for the session)."""
    from actions.flow import FLOW_SLOTS

    slots = {slot.name for slot in domain().slots}
    assert set(FLOW_SLOTS) <= slots
    identity = {"phone_number", "otp_code"}
    for form, spec in domain().forms.items():
        missing = set(spec.get("required_slots") or []) - set(FLOW_SLOTS) - identity
        assert not missing, f"{form}: add {sorted(missing)} to FLOW_SLOTS (actions/flow.py)"


def test_operator_profile_variables_are_slots():
    """action_session_start puts the operator profile into slots so that responses sent
    by rules can use them: each variable must be a slot of the domain."""
    from actions.common import brand_vars

    slots = {slot.name for slot in domain().slots}
    assert set(brand_vars()) <= slots


def test_call_center_goals_start_real_intents():
    from bot.handoff.service import GOALS

    for goal, (intent, entities) in GOALS.items():
        assert intent in domain().intents, goal
        assert set(entities) <= set(domain().entities), goal


def test_handoff_topics_are_intents():
    from bot.handoff.dialogue import TOPICS

    known = set(domain().intents) | {"nlu_fallback"}
    assert set(TOPICS) <= known, set(TOPICS) - known


def test_every_entity_the_nlu_extracts_is_in_the_domain():
    from bot.nlu.extractor import VietnameseEntityExtractor

    produced = set(VietnameseEntityExtractor.get_default_config().get("entities") or []) or {
        "phone_number", "otp_code", "id_number", "service", "location"}
    assert produced <= set(domain().entities)
