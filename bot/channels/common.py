"""What both channels share: sender ids, input limits, Vietnamese notices, text splitting."""

from __future__ import annotations

import json
import logging
import os
import unicodedata
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import UserMessage

logger = logging.getLogger(__name__)

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]

TELEGRAM = "telegram"
ZALO = "zalo"
SENDER_PREFIX = {TELEGRAM: "tg-", ZALO: "zalo-"}

# Text longer than this is not sent to the NLU: the customer is asked to write shorter.
MAX_INPUT_CHARS = int(os.environ.get("BOT_CHANNEL_MAX_INPUT_CHARS", "2000"))

# The text sent to Rasa for a photo without a caption (intent `inform`, no entity).
INFORM_TEXT = "/inform"
PHOTO_TEXT = INFORM_TEXT

# User-visible notices (Vietnamese, polite).
MSG_TOO_LONG = ("Dạ, tin nhắn của anh/chị dài quá ({limit} ký tự trở lên) nên em chưa đọc được "
                "ạ. Anh/chị vui lòng nhắn ngắn gọn hơn giúp em nhé.")
MSG_NO_TEXT = ("Dạ, em chưa hiểu ý anh/chị ạ. Anh/chị vui lòng nhắn nội dung cần hỗ trợ "
               "bằng chữ giúp em nhé.")
MSG_UNSUPPORTED = ("Dạ, hiện em chỉ đọc được tin nhắn chữ và hình ảnh thôi ạ. Anh/chị vui lòng "
                   "nhắn nội dung cần hỗ trợ bằng chữ giúp em nhé.")
MSG_ERROR = ("Dạ, hệ thống của em đang gặp sự cố nên chưa trả lời được ạ. Anh/chị vui lòng "
             "gửi lại tin nhắn sau ít phút giúp em nhé.")
CONTACT_BUTTON = "📱 Chia sẻ số điện thoại của tôi"
CONTACT_PROMPT = "Anh/chị có thể bấm nút bên dưới để chia sẻ số điện thoại của mình ạ."


def sender_id(channel: str, user_id: str) -> str:
    """Rasa conversation id: `tg-<chat_id>` / `zalo-<user_id>`."""
    return f"{SENDER_PREFIX[channel]}{user_id}"


def user_id_from_recipient(channel: str, recipient_id: str) -> str:
    """Inverse of `sender_id`; a bare user id is accepted as is."""
    prefix = SENDER_PREFIX[channel]
    return recipient_id[len(prefix):] if recipient_id.startswith(prefix) else recipient_id


def has_words(text: str) -> bool:
    """True when the text holds at least one letter or digit (not only emoji/punctuation)."""
    return any(unicodedata.category(ch)[0] in "LN" for ch in text)


def input_problem(text: str) -> str | None:
    """A Vietnamese notice when this text must not go to the NLU, else None."""
    if len(text) > MAX_INPUT_CHARS:
        return MSG_TOO_LONG.format(limit=f"{MAX_INPUT_CHARS:,}".replace(",", "."))
    if not has_words(text):
        return MSG_NO_TEXT
    return None


def inform_payload(**entities: str) -> str:
    """`/inform{"phone_number":"0901000001"}`: a Rasa intent payload with entities."""
    return "/inform" + json.dumps(entities, ensure_ascii=False, separators=(",", ":"))


def split_text(text: str, limit: int) -> list[str]:
    """Split at paragraph, line or word boundaries into pieces of at most `limit` chars."""
    text = text.strip()
    if not text:
        return []
    pieces: list[str] = []
    while len(text) > limit:
        window = text[:limit]
        cut = max(window.rfind("\n\n"), window.rfind("\n"), window.rfind(" "))
        if cut < limit // 2:
            cut = limit
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        pieces.append(text)
    return pieces


def env_or(credentials: dict[str, Any] | None, key: str, env_name: str,
           default: str | None = None) -> str | None:
    """A credentials.yml value, else the environment variable, else the default."""
    value = (credentials or {}).get(key)
    if value in (None, ""):
        value = os.environ.get(env_name) or default
    return None if value is None else str(value)


def open_handoff_ticket(**kwargs: Any) -> bool:
    """Open a hand-off ticket through bot.handoff.tickets.open_ticket when it exists."""
    try:
        from bot.handoff.tickets import open_ticket  # owned by the hand-off helper
    except ImportError:
        logger.warning("bot.handoff.tickets.open_ticket is not available: no ticket opened "
                       "for %s (%s)", kwargs.get("conversation_id"), kwargs.get("reason"))
        return False
    try:
        open_ticket(**kwargs)
        return True
    except Exception:
        logger.exception("Could not open a hand-off ticket for %s",
                         kwargs.get("conversation_id"))
        return False
