"""Patches to Rasa's behaviour: the one place where we change how Rasa works inside.

Applied by `bot serve rasa` (bot/serve.py calls `apply()` before Rasa starts); nothing else
imports this module for its side effects. Every patch names the Rasa attribute it
replaces, is idempotent, and keeps Rasa's observable behaviour (same results, same
exceptions); only the repeated work goes. `tests/test_rasa_patches.py` fails when a Rasa
upgrade removes or changes what a patch relies on (`check_targets()`), and checks the
patched behaviour. Tested with Rasa `TESTED_RASA` (see pyproject.toml).

Why (profile of the Rasa process under load, reports/loadtest-*-baseline.md):

1. `RemoteAction._validate_action_result` (rasa/core/actions/action.py) called
   `jsonschema.validate(result, schema)` on every action-server response. `validate`
   re-checks the schema against its meta-schema (`check_schema`, the dominant cost: the
   2020-12 meta-schema walked with `$dynamicRef`) and builds a new validator each time.
   Patched: the validator is built and the schema checked once per schema (per
   `action_response_format_spec` function, a static schema), then reused; an invalid
   result still raises the same `jsonschema.ValidationError` with Rasa's message appended.
"""

from __future__ import annotations

import functools
import inspect
import logging
import threading
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

TESTED_RASA = "3.6"

_applied: set[str] = set()
_lock = threading.Lock()


# --------------------------------------------------------------------------------------
# 1. A cached validator for action-server results.

@functools.lru_cache(maxsize=8)
def _validator_for_spec(spec_function: Callable[[], dict[str, Any]]) -> Any:
    """The compiled validator of the schema `spec_function()` returns (checked once)."""
    from jsonschema.validators import validator_for

    schema = spec_function()
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _validate_action_result(self: Any, result: dict[str, Any]) -> bool:
    """Rasa's `RemoteAction._validate_action_result` with a validator built once."""
    from jsonschema import exceptions
    from rasa.shared.constants import DOCS_BASE_URL

    validator = _validator_for_spec(type(self).action_response_format_spec)
    error = exceptions.best_match(validator.iter_errors(result))
    if error is not None:
        error.message += (
            ". Failed to validate Action server response from API, "
            "make sure your response from the Action endpoint is valid. "
            f"For more information about the format visit {DOCS_BASE_URL}/custom-actions"
        )
        raise error
    return True


def _patch_action_validation() -> None:
    from rasa.core.actions.action import RemoteAction

    RemoteAction._validate_action_result = _validate_action_result


# --------------------------------------------------------------------------------------
# What the patches rely on: checked by tests/test_rasa_patches.py on every Rasa version.

def _targets() -> list[tuple[str, Any, str, list[str]]]:
    """(description, owner, attribute, expected parameter names) of what we replace or use."""
    from rasa.core.actions.action import RemoteAction

    return [
        ("RemoteAction._validate_action_result", RemoteAction, "_validate_action_result",
         ["self", "result"]),
        ("RemoteAction.action_response_format_spec", RemoteAction,
         "action_response_format_spec", []),
    ]


def check_targets() -> list[str]:
    """Problems with what the patches rely on (empty when Rasa still has it all)."""
    import rasa

    problems = []
    if not rasa.__version__.startswith(TESTED_RASA + "."):
        problems.append(f"Rasa {rasa.__version__}: the patches were written for "
                        f"{TESTED_RASA}.x; re-check each one against the new source")
    for name, owner, attribute, params in _targets():
        original = ORIGINALS.get(name) or getattr(owner, attribute, None)
        if original is None:
            problems.append(f"{name} is gone")
            continue
        found = list(inspect.signature(original).parameters)
        if found != params:
            problems.append(f"{name}{found}: expected parameters {params}")
    try:
        source = inspect.getsource(ORIGINALS.get("RemoteAction._validate_action_result")
                                   or _targets()[0][1]._validate_action_result)
    except (OSError, TypeError):
        source = ""
    if "action_response_format_spec" not in source:
        problems.append("RemoteAction._validate_action_result no longer validates against "
                        "action_response_format_spec(): re-check the cached validator")
    return problems


ORIGINALS: dict[str, Any] = {}

PATCHES: dict[str, Callable[[], None]] = {
    "action_result_validator": _patch_action_validation,
}


def _remember_originals() -> None:
    for name, owner, attribute, _ in _targets():
        ORIGINALS.setdefault(name, getattr(owner, attribute, None))


def apply(names: list[str] | None = None) -> list[str]:
    """Apply the patches (all, or `names`) once per process; returns what was applied."""
    with _lock:
        _remember_originals()
        problems = check_targets()
        if problems:
            logger.warning("Rasa patches: %s", "; ".join(problems))
        done = []
        for name in names or list(PATCHES):
            if name not in _applied:
                PATCHES[name]()
                _applied.add(name)
                done.append(name)
        if done:
            logger.info("Rasa patches applied: %s", ", ".join(done))
        return done
