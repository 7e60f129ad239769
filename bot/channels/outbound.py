"""Send to a customer on their channel outside a Rasa request (agent replies, follow-ups).

    await send_text("telegram", "123456789", "Dạ em chào anh/chị", buttons=[...])
    await send_text("zalo", "<zalo user id>", "...")

`channel` is the metadata channel ("telegram" | "zalo"; the Rasa names "telegram_ptb" and
"zalo" are accepted too); `user_id` is the metadata `user_id` (a `tg-`/`zalo-` sender id is
accepted). Configuration comes from the same environment variables as the input channels.
Raises `OutboundError` when the message cannot be delivered (channel not configured,
Zalo user outside the 48-hour window: `WindowClosed`, API errors).
"""

from __future__ import annotations

from typing import Any

from telegram.error import TelegramError

from bot.channels.store import ChannelStore
from bot.channels.telegram import TelegramConfig, TelegramOutput
from bot.channels.zalo import ZaloApiError, ZaloConfig, ZaloOutput, ZaloWindowClosed
from bot.conversation_ids import TELEGRAM, ZALO, user_id_from_recipient

__all__ = ["OutboundError", "WindowClosed", "send_text"]

_ALIASES = {"telegram": TELEGRAM, "telegram_ptb": TELEGRAM, "tg": TELEGRAM, "zalo": ZALO}


class OutboundError(RuntimeError):
    """The message could not be delivered."""


class WindowClosed(OutboundError):
    """Zalo: the customer is outside the 48-hour customer-service window (the conversation
    was marked for a human follow-up; a ZNS template or a phone call is needed)."""


async def send_text(channel: str, user_id: str, text: str,
                    buttons: list[dict[str, Any]] | None = None,
                    store: ChannelStore | None = None) -> None:
    """Send `text` (and Rasa-style buttons `{"title", "payload"}`) to one customer."""
    name = _ALIASES.get(channel)
    if name is None:
        raise OutboundError(f"unknown channel {channel!r}")
    uid = user_id_from_recipient(name, user_id)
    if name == TELEGRAM:
        config = TelegramConfig.from_credentials()
        if not config.configured:
            raise OutboundError("Telegram is not configured (TELEGRAM_TOKEN)")
        output: Any = TelegramOutput(config, store)
        try:
            await _send(output, uid, text, buttons)
        except TelegramError as exc:
            raise OutboundError(f"Telegram error: {exc}") from exc
        return
    zconfig = ZaloConfig.from_credentials()
    if not zconfig.configured:
        raise OutboundError("Zalo is not configured (ZALO_APP_ID, ZALO_OA_SECRET_KEY)")
    zoutput = ZaloOutput(zconfig, store)
    zoutput.raise_window_errors = True
    try:
        await _send(zoutput, uid, text, buttons)
    except ZaloWindowClosed as exc:
        raise WindowClosed(str(exc)) from exc
    except ZaloApiError as exc:
        raise OutboundError(str(exc)) from exc


async def _send(output: Any, user_id: str, text: str,
                buttons: list[dict[str, Any]] | None) -> None:
    if buttons:
        await output.send_text_with_buttons(user_id, text, buttons)
    else:
        await output.send_text_message(user_id, text)
