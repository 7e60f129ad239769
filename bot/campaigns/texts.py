"""The campaigns' texts for operators: bot/campaigns/texts.yml (read once)."""

from __future__ import annotations

from pathlib import Path

from bot.texts import Messages

campaign_texts = Messages(Path(__file__).with_name("texts.yml"))
