"""Texts designers read (console page data, `bot data`, `make validate`): texts.yml."""

from __future__ import annotations

from pathlib import Path

from bot.texts import Messages

designer_texts = Messages(Path(__file__).with_name("texts.yml"))
