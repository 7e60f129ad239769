"""Rasa conversation ids (sender_id) <-> (channel, user id), per the channels' convention
(`bot.channels.common`: Telegram `tg-<chat id>`, Zalo `zalo-<user id>`).

Any other sender id (Rasa's REST channel, the shell) has no channel we can write to.
"""

from __future__ import annotations

from bot.channels.common import SENDER_PREFIX, sender_id

# Name of the Rasa input channel that can build an output channel for a customer channel:
# the value of `output_channel=` in Rasa's trigger_intent API.
RASA_CHANNEL_NAMES = {"telegram": "telegram_ptb", "zalo": "zalo"}

__all__ = ["RASA_CHANNEL_NAMES", "known_channels", "parse_sender_id", "sender_id"]


def parse_sender_id(conversation_id: str) -> tuple[str | None, str | None]:
    """(channel, user_id) of a conversation id, or (None, None) for other channels."""
    for channel, prefix in SENDER_PREFIX.items():
        if conversation_id.startswith(prefix) and len(conversation_id) > len(prefix):
            return channel, conversation_id[len(prefix):]
    return None, None


def known_channels() -> tuple[str, ...]:
    return tuple(SENDER_PREFIX)
