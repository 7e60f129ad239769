"""bot/rasa_patches.py: what the patches rely on still exists in Rasa (fails after an
upgrade that removes or changes it), and the patched behaviour is Rasa's, minus the
repeated work."""

from __future__ import annotations

import jsonschema
import pytest

from bot import rasa_patches


@pytest.fixture(scope="module")
def patched():
    rasa_patches.apply()
    from rasa.core.actions.action import RemoteAction

    return RemoteAction("action_test", None)


def test_rasa_still_has_what_the_patches_rely_on():
    assert rasa_patches.check_targets() == []


def test_apply_is_idempotent(patched):
    assert rasa_patches.apply() == []
    from rasa.core.actions.action import RemoteAction

    assert RemoteAction._validate_action_result is rasa_patches._validate_action_result


VALID = {"events": [{"event": "slot", "name": "phone_number", "value": "0901000001",
                     "timestamp": None}],
         "responses": [{"text": "xin chào"}]}


def test_validator_built_once(patched, monkeypatch):
    rasa_patches._validator_for_spec.cache_clear()
    checks = []
    original = jsonschema.validators.Draft202012Validator.check_schema.__func__

    def counting(cls, schema, *args, **kwargs):
        checks.append(schema)
        return original(cls, schema, *args, **kwargs)

    monkeypatch.setattr(jsonschema.validators.Draft202012Validator, "check_schema",
                        classmethod(counting))
    for _ in range(5):
        assert patched._validate_action_result(VALID) is True
    assert rasa_patches._validator_for_spec.cache_info().misses == 1
    assert len(checks) == 1


@pytest.mark.parametrize("result", [
    {"events": [{"event": "no_such_event"}]},
    {"events": "not a list"},
    {"responses": [1, 2]},
    {"events": [{"event": "slot", "name": 3}]},
])
def test_still_rejects_invalid_results(patched, result):
    with pytest.raises(jsonschema.ValidationError) as error:
        patched._validate_action_result(result)
    assert "Failed to validate Action server response" in error.value.message


def test_same_verdicts_as_rasas_original(patched):
    original = rasa_patches.ORIGINALS["RemoteAction._validate_action_result"]
    for result in (VALID, {"events": [{"event": "no_such_event"}]}, {"responses": [1]}):
        outcomes = []
        for validate in (original, rasa_patches._validate_action_result):
            try:
                outcomes.append(validate(patched, result))
            except jsonschema.ValidationError as error:
                outcomes.append(error.message)
        assert outcomes[0] == outcomes[1]
