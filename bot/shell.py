"""The terminal chat of `make chat` (`bot serve shell`): answers as plain text, buttons as
a clean numbered list under them; the customer types a number to tap a button, or free
text. Replaces rasa shell's questionary menu, which garbles Vietnamese text and the SMS
lines printed in the same terminal (`bot db sms --follow`). Only the shell's input and
output functions are replaced; the conversation still goes through Rasa's REST channel."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from bot.texts import Messages

TEXTS = Messages(Path(__file__).with_name("shell_texts.yml"))


def render(message: dict[str, Any]) -> str:
    """One answer as the lines the terminal shows: its text, then '1. <title>' lines."""
    lines: list[str] = []
    if message.get("text"):
        lines.append(str(message["text"]))
    if message.get("image"):
        lines.append(str(message["image"]))
    buttons = message.get("buttons") or []
    lines += [f"  {i}. {b.get('title', '')}" for i, b in enumerate(buttons, 1)]
    if buttons:
        lines.append("  " + (TEXTS("hint", n=len(buttons)) if len(buttons) > 1
                             else TEXTS("hint_one")))
    return "\n".join(lines)


def chosen(answer: str, buttons: list[dict[str, Any]]) -> str:
    """A typed number picks that button's payload; anything else is sent as typed."""
    text = answer.strip()
    if text.isdigit() and 1 <= int(text) <= len(buttons):
        return str(buttons[int(text) - 1].get("payload") or buttons[int(text) - 1]["title"])
    return text


def _print(message: dict[str, Any], *_: Any, **__: Any) -> None:
    print("\n" + render(message), flush=True)


async def get_user_input(previous_response: dict[str, Any] | None) -> str | None:
    buttons: list[dict[str, Any]] = []
    if previous_response is not None:
        _print(previous_response)
        buttons = previous_response.get("buttons") or []
    try:
        answer = await asyncio.to_thread(input, TEXTS("prompt"))
    except EOFError:
        return None
    return chosen(answer, buttons)


def install() -> None:
    """Use this input and output in rasa shell (called by `bot serve shell`)."""
    from rasa.core.channels import console

    console._get_user_input = get_user_input
    console._print_bot_output = _print
