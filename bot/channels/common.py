"""What both channels share: sender ids, input limits, typed-command neutralisation,
Vietnamese notices, text splitting, webhook body reading."""

from __future__ import annotations

import json
import logging
import os
import re
import unicodedata
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.shared.constants import INTENT_MESSAGE_PREFIX
from rasa.shared.core.constants import DEFAULT_INTENTS, EXTERNAL_MESSAGE_PREFIX

from bot.brand import operator

logger = logging.getLogger(__name__)

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]

TELEGRAM = "telegram"
ZALO = "zalo"
SENDER_PREFIX = {TELEGRAM: "tg-", ZALO: "zalo-"}

# Intents a customer must never trigger by typing their payload: Rasa's default intents that
# change the conversation itself (`/restart` would even end a human hand-off,
# `/session_start` starts a new session, `/back` undoes turns). `out_of_scope` and
# `nlu_fallback` only describe a message; our "Không phải" button sends `/out_of_scope`.
CONTROL_INTENTS = frozenset(DEFAULT_INTENTS) - {"out_of_scope", "nlu_fallback"}
# Rasa's pattern of an intent payload (`/intent@0.9{"entity": "value"}`), as in
# YAMLStoryReader._regex_message_pattern: the intent is what precedes "{" or "@".
_PAYLOAD = re.compile(re.escape(INTENT_MESSAGE_PREFIX) + r"(?P<intent>[^{@]+)")

# The text sent to Rasa for a photo without a caption (intent `inform`, no entity).
INFORM_TEXT = "/inform"
PHOTO_TEXT = INFORM_TEXT

# User-visible notices (Vietnamese, polite).
MSG_TOO_LONG = ("Dạ, tin nhắn của anh/chị dài quá (hơn {limit} ký tự) nên em chưa đọc được "
                "ạ. Anh/chị vui lòng nhắn ngắn gọn hơn giúp em nhé.")
MSG_NO_TEXT = ("Dạ, em chưa hiểu ý anh/chị ạ. Anh/chị vui lòng nhắn nội dung cần hỗ trợ "
               "bằng chữ giúp em nhé.")
MSG_UNSUPPORTED = ("Dạ, hiện em chỉ đọc được tin nhắn chữ và hình ảnh thôi ạ. Anh/chị vui lòng "
                   "nhắn nội dung cần hỗ trợ bằng chữ giúp em nhé.")
MSG_ERROR = ("Dạ, hệ thống của em đang gặp sự cố nên chưa trả lời được ạ. Anh/chị vui lòng "
             "gửi lại tin nhắn sau ít phút giúp em nhé.")
MSG_PRIVATE_ONLY = ("Dạ, em chỉ hỗ trợ trong trò chuyện riêng ạ. Anh/chị vui lòng nhắn riêng "
                    "cho em để được hỗ trợ nhé.")
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


def max_message_chars() -> int:
    """Longer customer messages never reach the NLU (operator.yml limits.max_message_chars)."""
    return int(operator()["limits"]["max_message_chars"])


def max_webhook_bytes() -> int:
    """Larger webhook bodies are refused with 413 (operator.yml limits.max_webhook_bytes)."""
    return int(operator()["limits"]["max_webhook_bytes"])


def too_long_notice() -> str:
    return MSG_TOO_LONG.format(limit=f"{max_message_chars():,}".replace(",", "."))


def payload_intent(text: str) -> str | None:
    """The intent Rasa would read from this text as a payload (`/restart` -> `restart`),
    None when Rasa would read it as words. Mirrors Rasa's own parsing: the text is stripped,
    then `/<intent>[@confidence][{entities}]`."""
    match = _PAYLOAD.match(text.strip())
    return match.group("intent").strip() if match else None


def is_control_intent(intent: str | None) -> bool:
    return intent is not None and intent.casefold() in CONTROL_INTENTS


def neutralise_commands(text: str, allow_payloads: bool = False) -> str:
    """Typed text -> text Rasa reads as words, never as a control command.

    A leading "EXTERNAL: " (the prefix of Rasa's system-triggered intents) is removed; a
    leading "/" is removed when the payload's intent is one of Rasa's default intents
    (`/restart`, `/session_start`, ...) or, unless `allow_payloads`, whatever the intent
    (`/inform{"slot": ...}` -> `inform{"slot": ...}`). Repeated until nothing is left to
    remove (`//restart`, `EXTERNAL: /restart`). `allow_payloads` is for Zalo, where button
    clicks arrive as typed text: payloads of the domain's own intents still work there."""
    current = text
    while True:
        stripped = current.lstrip()
        if stripped.startswith(EXTERNAL_MESSAGE_PREFIX):
            current = stripped[len(EXTERNAL_MESSAGE_PREFIX):]
            continue
        if stripped.startswith(INTENT_MESSAGE_PREFIX):
            if allow_payloads and not is_control_intent(payload_intent(stripped)):
                return current
            current = stripped.lstrip(INTENT_MESSAGE_PREFIX)
            continue
        return current


def is_control_text(text: str) -> bool:
    """True when Rasa would read this text as a control command (a default intent's payload
    or an "EXTERNAL: " line), i.e. when `neutralise_commands` would change a payload."""
    return neutralise_commands(text, allow_payloads=True) != text


def prepare_typed_text(text: str, allow_payloads: bool = False) -> tuple[str | None, str | None]:
    """What a customer typed -> (text for Rasa, None) or (None, polite notice).

    The one rule of both channels: a message longer than limits.max_message_chars gets the
    "too long" notice and never reaches the NLU; control commands are neutralised
    (`neutralise_commands`); what is left without any letter or digit gets "write in words"."""
    if len(text) > max_message_chars():
        return None, too_long_notice()
    text = neutralise_commands(text, allow_payloads=allow_payloads)
    if not has_words(text):
        return None, MSG_NO_TEXT
    return text, None


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


async def read_body(request: Any, limit: int) -> bytes | None:
    """The body of a Sanic request, or None when it is larger than `limit` bytes. On a
    streamed route (`stream=True`) at most `limit + 1` bytes are read: an oversized body is
    refused before it is buffered, let alone parsed."""
    length = request.headers.get("content-length")
    if length is not None and re.fullmatch(r"[0-9]+", length.strip()) and int(length) > limit:
        return None
    body = request.body
    if not body and getattr(request, "stream", None) is not None:
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = await request.stream.read()
            if chunk is None:
                break
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
        body = b"".join(chunks)
    return body if len(body) <= limit else None


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
