"""Rasa conversation ids (sender_id) <-> (channel, user id): the convention every part
shares. The channels name conversations `tg-<chat id>` (Telegram) and `zalo-<user id>`
(Zalo) after authenticating the webhook; the actions, the hand-off and the outbound
sender read them back here. Any other sender id (Rasa's REST channel, the shell) has no
channel we can write to.

Neutral on purpose: it imports nothing of ours, so the channels, the hand-off and the
actions can all use it without depending on each other.
"""

from __future__ import annotations

TELEGRAM = "telegram"
ZALO = "zalo"
SENDER_PREFIX = {TELEGRAM: "tg-", ZALO: "zalo-"}

# Name of the Rasa input channel that can build an output channel for a customer channel:
# the value of `output_channel=` in Rasa's trigger_intent API.
RASA_CHANNEL_NAMES = {TELEGRAM: "telegram_ptb", ZALO: "zalo"}


def sender_id(channel: str, user_id: str) -> str:
    """Rasa conversation id: `tg-<chat_id>` / `zalo-<user_id>`."""
    return f"{SENDER_PREFIX[channel]}{user_id}"


def user_id_from_recipient(channel: str, recipient_id: str) -> str:
    """Inverse of `sender_id`; a bare user id is accepted as is."""
    prefix = SENDER_PREFIX[channel]
    return recipient_id[len(prefix):] if recipient_id.startswith(prefix) else recipient_id


def parse_sender_id(conversation_id: str) -> tuple[str | None, str | None]:
    """(channel, user_id) of a conversation id, or (None, None) for other channels."""
    for channel, prefix in SENDER_PREFIX.items():
        if conversation_id.startswith(prefix) and len(conversation_id) > len(prefix):
            return channel, conversation_id[len(prefix):]
    return None, None


def known_channels() -> tuple[str, ...]:
    return tuple(SENDER_PREFIX)
