"""The hand-off's texts for agents and operators: bot/handoff/texts.yml (read once).

    handoff_texts("errors.not_found")
    handoff_texts("summary.reason", reason="Mất SIM")
    handoff_texts.table("statuses")

What a customer reads is not here: it is in domain.yml (`bot.texts.text`)."""

from __future__ import annotations

from pathlib import Path

from bot.texts import Messages

handoff_texts = Messages(Path(__file__).with_name("texts.yml"))
