"""Rasa conversation ids (sender_id) <-> (channel, user id), per the channels' convention.

Telegram conversations are `tg-<chat id>`, Zalo ones `zalo-<user id>`; any other sender id
(Rasa's REST channel, the shell) has no channel we can write to.
"""

from __future__ import annotations

_PREFIXES = {"telegram": "tg-", "zalo": "zalo-"}


def sender_id(channel: str, user_id: str) -> str:
    """The Rasa conversation id of a user on a channel."""
    prefix = _PREFIXES.get(channel)
    if prefix is None:
        raise ValueError(f"unknown channel {channel!r}")
    return f"{prefix}{user_id}"


def parse_sender_id(conversation_id: str) -> tuple[str | None, str | None]:
    """(channel, user_id) of a conversation id, or (None, None) for other channels."""
    for channel, prefix in _PREFIXES.items():
        if conversation_id.startswith(prefix) and len(conversation_id) > len(prefix):
            return channel, conversation_id[len(prefix):]
    return None, None


def known_channels() -> tuple[str, ...]:
    return tuple(_PREFIXES)
