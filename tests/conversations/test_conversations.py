"""Every conversation of conversations.yml must reach its outcome (harness.py).

Needs TEST_MODEL (set by `make test-py`); skipped otherwise. Marked slow."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conversations.harness import STYLES, Player, load, player

pytestmark = pytest.mark.slow
CONVERSATIONS, SCRIPT_STEPS = load()


@pytest.fixture(scope="module")
def played(tmp_path_factory) -> Iterator[Player]:
    model = os.environ.get("TEST_MODEL")
    if not model or not Path(model).is_file():
        pytest.skip("TEST_MODEL is not set or missing (run `make test-py`)")
    with player(tmp_path_factory.mktemp("conversations"), model) as p:
        yield p


def test_the_set_covers_every_style_and_task():
    styles = Counter(c.style for c in CONVERSATIONS)
    assert len(CONVERSATIONS) >= 60
    assert set(styles) == set(STYLES) and min(styles.values()) >= 12
    assert len({c.id for c in CONVERSATIONS}) == len(CONVERSATIONS)
    assert {c.task for c in CONVERSATIONS} <= set(SCRIPT_STEPS)


@pytest.mark.parametrize("conversation", CONVERSATIONS, ids=lambda c: c.id)
def test_conversation(played, conversation):
    outcome = played.play(conversation)
    transcript = "\n".join(f"> {u}\n{a}" for u, a in outcome.transcript)
    assert outcome.ok, "\n".join(outcome.failures) + "\n--- transcript ---\n" + transcript
