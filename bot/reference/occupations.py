"""The 18 occupation codes of the call-center script (exactly one main code per
subscriber). Their labels, what the customer reads and picks, are domain responses
`utter_occupation_<code>` (domain.yml, rendered with `bot.texts.text`); the words
customers type for a code are matched in actions/occupation.py."""

from __future__ import annotations

# Exactly one main occupation code per subscriber (call-center script, seed 002).
OCCUPATION_CODES: tuple[int, ...] = tuple(range(1, 19))


def label_response(code: int) -> str:
    """The domain response that labels `code`: 4 -> 'utter_occupation_4'."""
    return f"utter_occupation_{int(code)}"
