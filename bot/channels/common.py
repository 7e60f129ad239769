"""What both channels share: input limits, typed-command neutralisation,
the notices they send themselves (domain responses), text splitting, webhook body reading."""

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

from bot import texts
from bot.brand import operator

logger = logging.getLogger(__name__)

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]

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

# What a channel tells a customer itself (message too long, not text, an error, private
# chats only, Telegram's share-number button) is a domain response, utter_channel_* and
# utter_contact_* in domain.yml: `channel_notice("utter_channel_error", "zalo")`.


def has_words(text: str) -> bool:
    """True when the text holds at least one letter or digit (not only emoji/punctuation)."""
    return any(unicodedata.category(ch)[0] in "LN" for ch in text)


def max_message_chars() -> int:
    """Longer customer messages never reach the NLU (operator.yml limits.max_message_chars)."""
    return int(operator()["limits"]["max_message_chars"])


def max_webhook_bytes() -> int:
    """Larger webhook bodies are refused with 413 (operator.yml limits.max_webhook_bytes)."""
    return int(operator()["limits"]["max_webhook_bytes"])


def channel_notice(response: str, channel: str | None = None, /, **values: Any) -> str:
    """The text of a domain response for the Rasa channel `channel` (`telegram_ptb`,
    `zalo`), filled: what a channel tells a customer without asking the assistant."""
    return texts.text(response, channel, **values)


def too_long_notice(channel: str | None = None) -> str:
    return channel_notice("utter_channel_too_long", channel,
                  limit=f"{max_message_chars():,}".replace(",", "."))


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


def prepare_typed_text(text: str, allow_payloads: bool = False,
                       channel: str | None = None) -> tuple[str | None, str | None]:
    """What a customer typed -> (text for Rasa, None) or (None, polite notice).

    The one rule of both channels: a message longer than limits.max_message_chars gets the
    "too long" notice and never reaches the NLU; control commands are neutralised
    (`neutralise_commands`); what is left without any letter or digit gets "write in words".
    `channel` (the Rasa channel name) picks the notices' channel variations."""
    if len(text) > max_message_chars():
        return None, too_long_notice(channel)
    text = neutralise_commands(text, allow_payloads=allow_payloads)
    if not has_words(text):
        return None, channel_notice("utter_channel_no_text", channel)
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


# Who takes a conversation the channels can no longer reach (Zalo's 48-hour window): the
# human desk. The channels never import the hand-off (it imports them): the process that
# runs them connects it at startup, `bot.handoff.tickets.connect_channels()` (done by
# `bot serve rasa` and the hand-off app).
HandoffOpener = Callable[..., Any]
_handoff_opener: HandoffOpener | None = None


def set_handoff_opener(opener: HandoffOpener | None) -> None:
    """Register the callable that opens a hand-off ticket (None: disconnect). It is called
    with the keyword arguments of `open_handoff_ticket`."""
    global _handoff_opener
    _handoff_opener = opener


def open_handoff_ticket(*, conversation_id: str, channel: str, user_id: str, reason: str,
                        priority: int, verified_msisdn: str | None,
                        transcript: list[dict[str, Any]]) -> bool:
    """Hand a conversation to the human desk through the registered opener. False (and a
    log line, never an exception) when none is connected or it failed."""
    opener = _handoff_opener
    if opener is None:
        logger.warning("no hand-off desk is connected in this process: no ticket opened "
                       "for %s (%s)", conversation_id, reason)
        return False
    try:
        opener(conversation_id=conversation_id, channel=channel, user_id=user_id,
               reason=reason, priority=priority, verified_msisdn=verified_msisdn,
               transcript=transcript)
        return True
    except Exception:
        logger.exception("Could not open a hand-off ticket for %s", conversation_id)
        return False


# What an upper layer wants to see of every inbound text before the assistant does (the
# campaigns: an opt-out answered at once, a reply to a campaign message counted). The
# channels never import them: `bot serve rasa` registers it (`bot.campaigns.connect_channels`).
# The filter gets (channel, user_id, text) and returns a text to answer instead of the
# assistant, or None to let the message through.
InboundFilter = Callable[[str, str, str], Awaitable[str | None]]
_inbound_filter: InboundFilter | None = None


def set_inbound_filter(check: InboundFilter | None) -> None:
    global _inbound_filter
    _inbound_filter = check


async def filter_inbound(channel: str, user_id: str, text: str) -> str | None:
    """The registered filter's answer; None (the assistant answers) when there is none or
    it failed (a log line, never an exception: the customer is still served)."""
    check = _inbound_filter
    if check is None:
        return None
    try:
        return await check(channel, user_id, text)
    except Exception:
        logger.exception("inbound filter failed for a %s message", channel)
        return None


# Whether a customer whose conversation waits for a human (hand-off ticket active, no agent
# reply yet, the assistant paused) should now get the short "an agent will reply" line
# (`utter_handoff_awaiting_agent`), rate-limited per conversation. The hand-off owns the
# tickets and the rate limit (it records the notice in the ticket, so every instance
# agrees); `bot.handoff.tickets.connect_channels()` registers it. Called with (channel,
# user_id, Rasa output channel name) after a turn that produced no output; a text means
# "send this line now" (never the variation sent last time), None means silence.
AWAITING_AGENT_RESPONSE = "utter_handoff_awaiting_agent"
AwaitingAgentCheck = Callable[[str, str, str], "str | None"]
_awaiting_agent_check: AwaitingAgentCheck | None = None


def set_awaiting_agent_check(check: AwaitingAgentCheck | None) -> None:
    global _awaiting_agent_check
    _awaiting_agent_check = check


def awaiting_agent_notice_due(channel: str, user_id: str, output_channel: str) -> str | None:
    """The registered check's line; None (silence, as before) when there is none or it
    failed (a log line, never an exception)."""
    check = _awaiting_agent_check
    if check is None:
        return None
    try:
        line = check(channel, user_id, output_channel)
        return line if isinstance(line, str) and line else None
    except Exception:
        logger.exception("awaiting-agent check failed for a %s conversation", channel)
        return None
