"""Telegram as a Rasa input channel, built on python-telegram-bot (Rasa name `telegram_ptb`).

Webhook: POST /webhooks/telegram_ptb/webhook with the header X-Telegram-Bot-Api-Secret-Token.
An update of a private chat is stored in the inbox (key `<bot id>:<update_id>`: a
re-delivery is recognised) before the webhook is answered; the inbox worker processes it
(bot.channels.worker). Sends are retried on 429 `retry_after`, 5xx and connection
failures, never twice (bot.channels.delivery).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any

import httpx
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from telegram import (
    Bot,
    Chat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from bot import texts
from bot.channels.common import (
    INFORM_TEXT,
    PHOTO_TEXT,
    OnNewMessage,
    channel_notice,
    env_or,
    inform_payload,
    is_control_text,
    max_message_chars,
    max_webhook_bytes,
    prepare_typed_text,
    read_body,
    split_text,
)
from bot.channels.delivery import PERMANENT, RETRY, UNKNOWN_OUTCOME, Verdict, deliver
from bot.channels.inbound import InboxInput
from bot.channels.inbox_config import InboxSettings, parse_delays
from bot.channels.inbox_store import InboxRow, InboxStore
from bot.channels.media import fetch_telegram_photos
from bot.channels.store import ChannelStore
from bot.channels.worker import BufferedOutput
from bot.conversation_ids import TELEGRAM, sender_id, user_id_from_recipient
from bot.text import normalize_msisdn

logger = logging.getLogger(__name__)

CHANNEL_NAME = "telegram_ptb"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
DEFAULT_BASE_URL = "https://api.telegram.org/bot"
DEFAULT_BASE_FILE_URL = "https://api.telegram.org/file/bot"
MAX_MESSAGE_CHARS = 4096  # Telegram's limit for one text message
MAX_CALLBACK_BYTES = 64  # Telegram's limit for callback_data
STORED_PAYLOAD_PREFIX = "p:"
TOO_LARGE = {"error": "request body too large"}
# channel_links rows (channel, chat id) of the groups/channels told "private chats only".
GROUP_NOTICE_CHANNEL = "telegram_group"
VERIFICATION_METHOD = "telegram_contact"  # the identity ledger's method
# "/start" (also "/start@bot_name", "/start <deep-link parameter>") is a greeting.
_START = re.compile(r"\s*/start(?:@\w+)?(?:\s.*)?", re.DOTALL)
GREET_PAYLOAD = "/greet"


@dataclass(frozen=True)
class TelegramConfig:
    token: str | None
    secret_token: str | None
    base_url: str = DEFAULT_BASE_URL
    base_file_url: str = DEFAULT_BASE_FILE_URL
    # Delays between processing attempts of one update (TELEGRAM_RETRY_DELAYS_S); None:
    # the inbox's (operator.yml channel_inbox.retry_delays_seconds).
    retry_delays_s: tuple[float, ...] | None = None

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None = None) -> TelegramConfig:
        """credentials.yml values win; otherwise TELEGRAM_* environment variables."""
        return cls(
            token=env_or(credentials, "token", "TELEGRAM_TOKEN"),
            secret_token=env_or(credentials, "secret_token", "TELEGRAM_SECRET_TOKEN"),
            base_url=env_or(credentials, "base_url", "TELEGRAM_API_BASE_URL",
                            DEFAULT_BASE_URL) or DEFAULT_BASE_URL,
            base_file_url=env_or(credentials, "base_file_url", "TELEGRAM_FILE_BASE_URL",
                                 DEFAULT_BASE_FILE_URL) or DEFAULT_BASE_FILE_URL,
            retry_delays_s=parse_delays(env_or(credentials, "retry_delays_s",
                                               "TELEGRAM_RETRY_DELAYS_S")),
        )

    @property
    def configured(self) -> bool:
        return bool(self.token)

    @property
    def bot_id(self) -> str:
        return (self.token or "").split(":", 1)[0]


_BOTS: dict[tuple[str, str, int], Bot] = {}


def get_bot(config: TelegramConfig) -> Bot:
    """One PTB Bot (HTTP client) per token, API URL and running event loop."""
    if not config.token:
        raise RuntimeError("TELEGRAM_TOKEN is not set")
    try:
        loop_id = id(asyncio.get_running_loop())
    except RuntimeError:
        loop_id = 0
    key = (config.token, config.base_url, loop_id)
    if key not in _BOTS:
        _BOTS[key] = Bot(config.token, base_url=config.base_url,
                         base_file_url=config.base_file_url)
    return _BOTS[key]


def _permanent(exc: TelegramError) -> bool:
    """Errors a retry cannot fix (blocked bot, bad chat): logged, not retried."""
    return isinstance(exc, (Forbidden, BadRequest))


def classify_error(exc: BaseException) -> Verdict:
    """What a failed Bot API call means for a retry (bot.channels.delivery)."""
    if isinstance(exc, RetryAfter):  # 429: wait as long as Telegram asks
        wait = exc.retry_after
        seconds = wait.total_seconds() if hasattr(wait, "total_seconds") else float(wait)
        return Verdict(RETRY, seconds)
    if isinstance(exc, (Forbidden, BadRequest, InvalidToken, ChatMigrated)):
        return Verdict(PERMANENT)
    cause = exc.__cause__
    if isinstance(exc, TimedOut):
        # A connect or pool timeout never sent the request; a read/write timeout may have.
        sent = not (isinstance(cause, (httpx.ConnectTimeout, httpx.PoolTimeout))
                    or "Pool timeout" in str(exc))
        return Verdict(UNKNOWN_OUTCOME if sent else RETRY)
    if isinstance(exc, NetworkError):
        # No cause: Telegram answered 5xx (it did not take the message). A refused
        # connection never sent it; any other transport error may have.
        if cause is None or isinstance(cause, httpx.ConnectError):
            return Verdict(RETRY)
        return Verdict(UNKNOWN_OUTCOME)
    return Verdict(PERMANENT)


class TelegramOutput(OutputChannel):
    """Sends Rasa's responses to a Telegram chat (recipient `tg-<chat_id>` or `<chat_id>`)."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL_NAME

    def __init__(self, config: TelegramConfig, store: ChannelStore | None = None,
                 settings: InboxSettings | None = None) -> None:
        self.config = config
        self._store = store
        self.settings = settings  # retries of the sends (None: operator.yml)

    @property
    def store(self) -> ChannelStore:
        if self._store is None:
            self._store = ChannelStore()
        return self._store

    @property
    def bot(self) -> Bot:
        return get_bot(self.config)

    async def _call(self, chat_id: int, call: Any) -> Any:
        """One Bot API send through the outbox: retried, never twice."""
        return await deliver(TELEGRAM, str(chat_id),
                             InboxStore(self.store.engine, self.store.clock), call,
                             classify_error, self.settings)

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        custom = message.get("custom")
        if isinstance(custom, dict) and custom.get("request_contact"):
            # The text and the "share my number" keyboard go out as one message.
            message = dict(message)
            message.pop("custom")
            if message.get("buttons") or message.get("quick_replies"):
                # The inline buttons keep the text; the keyboard comes with its own prompt.
                text = custom.get("text") or channel_notice("utter_contact_prompt",
                                                            CHANNEL_NAME)
            else:
                text = (message.pop("text", None) or custom.get("text")
                        or channel_notice("utter_contact_prompt", CHANNEL_NAME))
            await self.send_contact_request(recipient_id, text)
        await super().send_response(recipient_id, message)

    async def _send(self, chat_id: str, text: str, reply_markup: Any = None) -> None:
        pieces = _split(text)
        for index, piece in enumerate(pieces):
            markup = reply_markup if index == len(pieces) - 1 else None
            try:
                await self._call(int(chat_id), lambda piece=piece, markup=markup:
                                 self.bot.send_message(chat_id=int(chat_id), text=piece,
                                                       reply_markup=markup))
            except TelegramError as exc:
                if not _permanent(exc):
                    raise
                logger.warning("Telegram refused a message to chat %s: %s", chat_id, exc)
                return

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self._send(user_id_from_recipient(TELEGRAM, recipient_id), text)

    async def send_text_with_buttons(self, recipient_id: str, text: str,
                                     buttons: list[dict[str, Any]], **kwargs: Any) -> None:
        markup = await self.inline_keyboard(buttons)
        await self._send(user_id_from_recipient(TELEGRAM, recipient_id), text or "…", markup)

    async def send_quick_replies(self, recipient_id: str, text: str,
                                 quick_replies: list[dict[str, Any]], **kwargs: Any) -> None:
        await self.send_text_with_buttons(recipient_id, text, quick_replies)

    async def send_contact_request(self, recipient_id: str, text: str) -> None:
        button = KeyboardButton(channel_notice("utter_contact_button", CHANNEL_NAME),
                                request_contact=True)
        markup = ReplyKeyboardMarkup([[button]], one_time_keyboard=True, resize_keyboard=True)
        await self._send(user_id_from_recipient(TELEGRAM, recipient_id), text, markup)

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        chat_id = int(user_id_from_recipient(TELEGRAM, recipient_id))
        try:
            await self._call(chat_id, lambda: self.bot.send_photo(chat_id=chat_id, photo=image))
        except TelegramError as exc:
            if not _permanent(exc):
                raise
            logger.warning("Telegram refused a photo to chat %s: %s", chat_id, exc)

    async def send_attachment(self, recipient_id: str, attachment: Any, **kwargs: Any) -> None:
        if isinstance(attachment, str):
            await self.send_text_message(recipient_id, attachment)

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any],
                               **kwargs: Any) -> None:
        """`{"request_contact": true, "text"?: ...}` -> share-my-number keyboard;
        `{"text": ...}` -> that text; anything else is not shown to the customer."""
        if not isinstance(json_message, dict):
            return
        if json_message.get("request_contact"):
            await self.send_contact_request(
                recipient_id,
                json_message.get("text") or channel_notice("utter_contact_prompt", CHANNEL_NAME))
        elif json_message.get("text"):
            await self.send_text_message(recipient_id, str(json_message["text"]))
        else:
            logger.debug("custom JSON without a Telegram rendering ignored")

    async def inline_keyboard(self, buttons: list[dict[str, Any]]) -> InlineKeyboardMarkup:
        rows = []
        for button in buttons:
            title = str(button.get("title") or button.get("payload") or "")[:64]
            if button.get("url"):
                rows.append([InlineKeyboardButton(title, url=str(button["url"]))])
                continue
            payload = str(button.get("payload") or title)
            data = payload
            if len(payload.encode("utf-8")) > MAX_CALLBACK_BYTES:
                data = STORED_PAYLOAD_PREFIX + await self.store.run(self.store.put_payload,
                                                                     payload)
            rows.append([InlineKeyboardButton(title, callback_data=data)])
        return InlineKeyboardMarkup(rows)


def _split(text: str) -> list[str]:
    return split_text(text, MAX_MESSAGE_CHARS) or ["…"]


class TelegramInput(InboxInput, InputChannel):
    """Receives Telegram updates (webhook, or relayed by `bot telegram poll`).

    Private chats only: in a group, supergroup or channel the bot says once that it only
    helps in a private chat, and nothing reaches Rasa (one member's proof of identity must
    never serve another). A customer's own shared contact is recorded in the backend's
    identity ledger; message metadata never carries a verified number."""

    inbox_name = TELEGRAM
    config: TelegramConfig

    @classmethod
    def name(cls) -> str:
        return CHANNEL_NAME

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> TelegramInput:
        return cls(TelegramConfig.from_credentials(credentials))

    def __init__(self, config: TelegramConfig, store: ChannelStore | None = None) -> None:
        super().__init__(config, store)
        if not config.configured:
            logger.warning("Telegram channel loaded without TELEGRAM_TOKEN: its webhook "
                           "answers 503 until the token is configured")
        elif not config.secret_token:
            logger.warning("TELEGRAM_SECRET_TOKEN is not set: every webhook request is "
                           "rejected (403)")

    def get_output_channel(self) -> OutputChannel | None:
        if not self.config.configured:
            return None
        return TelegramOutput(self.config, self.store, self.settings())

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        texts.domain()  # the notices' domain is read at start-up, not on a first message
        hook = Blueprint("telegram_ptb_webhook", __name__)

        @hook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok", "configured": self.config.configured})

        @hook.route("/webhook", methods=["POST"], stream=True)
        async def receive(request: Request) -> HTTPResponse:
            # The secret header is checked before the body is read; the body is read up to
            # limits.max_webhook_bytes (413 beyond).
            secret = request.headers.get(SECRET_HEADER)
            refused = self._refuse(secret)
            if refused is not None:
                return response.json(refused[1], status=refused[0])
            raw_body = await read_body(request, max_webhook_bytes())
            if raw_body is None:
                return response.json(TOO_LARGE, status=413)
            status, body = await self.handle_request(secret, raw_body, on_new_message)
            return response.json(body, status=status)

        self.add_worker_listeners(hook, on_new_message)
        return hook

    def _refuse(self, secret: str | None) -> tuple[int, dict[str, Any]] | None:
        if not self.config.configured:
            return 503, {"error": "telegram channel not configured"}
        expected = self.config.secret_token
        if not expected or not secret or not hmac.compare_digest(
                secret.encode("utf-8", "replace"), expected.encode("utf-8", "replace")):
            return 403, {"error": "missing or wrong secret token"}
        return None

    async def handle_request(self, secret: str | None, raw_body: bytes,
                             on_new_message: OnNewMessage) -> tuple[int, dict[str, Any]]:
        """Check the secret and the size, parse, process once. Returns (HTTP status, JSON
        body)."""
        refused = self._refuse(secret)
        if refused is not None:
            return refused
        if len(raw_body or b"") > max_webhook_bytes():
            return 413, TOO_LARGE
        try:
            data = json.loads(raw_body or b"")
        except (ValueError, UnicodeDecodeError, RecursionError):
            return 400, {"error": "body is not JSON"}
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            return 400, {"error": "not a Telegram update (update_id missing)"}
        return await self.process_update(data, on_new_message)

    async def process_update(self, data: dict[str, Any],
                             on_new_message: OnNewMessage) -> tuple[int, dict[str, Any]]:
        """Answer what needs no assistant (groups, ignored updates); store the rest in the
        inbox before answering."""
        output = TelegramOutput(self.config, self.store)
        try:
            update = Update.de_json(data, output.bot)
            inbound = _classify(update)
        except Exception:
            logger.warning("Malformed Telegram update %s", data.get("update_id"))
            return 400, {"error": "malformed update"}
        if inbound.kind in (IGNORED, NOT_PRIVATE):
            # Nothing for Rasa: nothing stored either.
            await self._answer_click(inbound, output)
            if inbound.kind == NOT_PRIVATE:
                await self._not_private(inbound, output)
            return 200, {"status": inbound.kind}
        if inbound.kind == CLICK:
            refused = await self._refuse_click(inbound)
            if refused is not None:
                await self._answer_click(inbound, output)
                return 200, {"status": refused}
        return await self.accept_inbound(f"{self.config.bot_id}:{update.update_id}",
                                         inbound.chat_id, data, on_new_message, wait=True)

    # -- the inbox worker's side ------------------------------------------------------
    def delivery_output(self) -> TelegramOutput:
        return TelegramOutput(self.config, self.store, self.settings())

    async def process_inbound(self, row: InboxRow, output: BufferedOutput,
                              on_new_message: OnNewMessage) -> None:
        """One stored update: to Rasa (or a notice), everything the customer is sent going
        into `output` (delivered by the worker once the turn is complete)."""
        real = self.delivery_output()
        update = Update.de_json(row.payload or {}, real.bot)
        await self._handle(_classify(update), output, real, on_new_message)

    async def _not_private(self, inbound: _Inbound, output: TelegramOutput) -> None:
        """One polite line per group/channel, ever (remembered in channel_links)."""
        try:
            if await self.store.run(self.store.claim_link, GROUP_NOTICE_CHANNEL,
                                    inbound.chat_id):
                await output.send_text_message(
                    inbound.chat_id, channel_notice("utter_channel_private_only", CHANNEL_NAME))
        except Exception:  # a group gets no service anyway: never fail the update for it
            logger.exception("Could not tell Telegram chat %s that only private chats are "
                             "served", inbound.chat_id)

    async def _answer_click(self, inbound: _Inbound, output: TelegramOutput) -> None:
        if inbound.callback_id is None:
            return
        try:
            await output.bot.answer_callback_query(inbound.callback_id)
        except TelegramError as exc:  # the click still counts
            logger.warning("answerCallbackQuery failed: %s", exc)

    async def _handle(self, inbound: _Inbound, output: OutputChannel, real: TelegramOutput,
                      on_new_message: OnNewMessage) -> str:
        if inbound.kind == CLICK:
            return await self._handle_click(inbound, output, real, on_new_message)
        chat_id = inbound.chat_id
        if inbound.verified:
            # The customer's own contact: recorded server-side for this conversation. The
            # actions read the ledger; nothing in the message claims it.
            await asyncio.to_thread(_record_contact, sender_id(TELEGRAM, chat_id),
                                    inbound.verified)
        await self.store.run(self.store.touch_link, TELEGRAM, chat_id, inbound.verified)
        if inbound.notice:
            await output.send_text_message(chat_id, inbound.notice)
            return inbound.kind
        if inbound.metadata.get("photos"):  # file ids -> checked, encrypted copies
            await fetch_telegram_photos(real.bot, inbound.metadata)
        await on_new_message(UserMessage(inbound.text, output, sender_id(TELEGRAM, chat_id),
                                         input_channel=self.name(),
                                         metadata=inbound.metadata))
        return "processed"

    async def _click_payload(self, inbound: _Inbound) -> str:
        """The payload of a click: its callback data, or the long payload stored for it."""
        data = inbound.text
        if data.startswith(STORED_PAYLOAD_PREFIX):
            stored: str | None = await self.store.run(self.store.get_payload,
                                                      data[len(STORED_PAYLOAD_PREFIX):])
            data = stored or ""
        return data

    async def _refuse_click(self, inbound: _Inbound) -> str | None:
        """"ignored" (no payload) or "refused" (a control command: callback data comes from
        the client and can be forged); None for a click that goes to Rasa."""
        data = await self._click_payload(inbound)
        if not data:
            return "ignored"
        if is_control_text(data) or len(data) > max_message_chars():
            logger.warning("Telegram click with a control payload refused (chat %s)",
                           inbound.chat_id)
            return "refused"
        return None

    async def _handle_click(self, inbound: _Inbound, output: OutputChannel,
                            real: TelegramOutput, on_new_message: OnNewMessage) -> str:
        await self._answer_click(inbound, real)
        refused = await self._refuse_click(inbound)
        if refused is not None:
            return refused
        chat_id = inbound.chat_id
        await self.store.run(self.store.touch_link, TELEGRAM, chat_id)
        metadata = {"channel": TELEGRAM, "user_id": chat_id}
        await on_new_message(UserMessage(await self._click_payload(inbound), output,
                                         sender_id(TELEGRAM, chat_id),
                                         input_channel=self.name(), metadata=metadata))
        return "processed"


# What an update asks for (decided from the update alone, before any I/O).
MESSAGE, CLICK, IGNORED, NOT_PRIVATE = "message", "click", "ignored", "not_private"
REJECTED, UNSUPPORTED = "rejected_input", "unsupported"


@dataclass
class _Inbound:
    kind: str
    chat_id: str = ""
    text: str = ""
    notice: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    verified: str | None = None  # the sender's own number (shared contact)
    callback_id: str | None = None


def _classify(update: Update) -> _Inbound:
    query = update.callback_query
    if query is not None:
        origin = query.message
        if origin is None or origin.chat is None:  # inline-mode message: chat unknown
            return _Inbound(IGNORED, callback_id=query.id)
        chat_id = str(origin.chat.id)
        if origin.chat.type != Chat.PRIVATE:
            return _Inbound(NOT_PRIVATE, chat_id, callback_id=query.id)
        return _Inbound(CLICK, chat_id, text=query.data or "", callback_id=query.id)
    post = update.channel_post
    if post is not None:
        return _Inbound(NOT_PRIVATE, str(post.chat.id))
    message = update.message
    if message is None:  # edits, membership changes, ...
        return _Inbound(IGNORED)
    chat_id = str(message.chat.id)
    if message.chat.type != Chat.PRIVATE:
        return _Inbound(NOT_PRIVATE, chat_id)
    metadata: dict[str, Any] = {"channel": TELEGRAM, "user_id": chat_id}
    if message.contact is not None:
        text, verified, notice = _contact(message)
        return _Inbound(REJECTED if notice else MESSAGE, chat_id, text=text or "",
                        notice=notice, metadata=metadata, verified=verified)
    if message.photo or _is_image_document(message):
        # Only media Telegram delivered count as photos. An uncompressed photo ("send as
        # file") arrives as an image document.
        document = message.document
        file_id = (message.photo[-1].file_id if message.photo
                   else document.file_id if document is not None else "")
        metadata["photos"] = [file_id]
        caption = (prepare_typed_text(message.caption, channel=CHANNEL_NAME)[0]
                   if message.caption else None)
        return _Inbound(MESSAGE, chat_id, text=caption or PHOTO_TEXT, metadata=metadata)
    if message.text is not None:
        if len(message.text) <= max_message_chars() and _START.fullmatch(message.text):
            return _Inbound(MESSAGE, chat_id, text=GREET_PAYLOAD, metadata=metadata)
        text, notice = prepare_typed_text(message.text, channel=CHANNEL_NAME)
        if notice:
            return _Inbound(REJECTED, chat_id, notice=notice)
        return _Inbound(MESSAGE, chat_id, text=text or "", metadata=metadata)
    return _Inbound(UNSUPPORTED, chat_id,
                    notice=channel_notice("utter_channel_unsupported", CHANNEL_NAME))


def _is_image_document(message: Message) -> bool:
    document = message.document
    return document is not None and (document.mime_type or "").startswith("image/")


def _contact(message: Message) -> tuple[str | None, str | None, str | None]:
    """(text for Rasa, the sender's own verified number, notice) of a shared contact."""
    contact = message.contact
    if contact is None:
        return INFORM_TEXT, None, None
    typed = (contact.phone_number or "").strip()
    msisdn = normalize_msisdn(typed)
    if msisdn is None:  # not a Vietnamese mobile: as if typed
        if not typed:
            return INFORM_TEXT, None, None
        text, notice = prepare_typed_text(typed, channel=CHANNEL_NAME)
        return text, None, notice
    sender = message.from_user
    own = (contact.user_id is not None and sender is not None
           and contact.user_id == sender.id and sender.id == message.chat.id)
    return inform_payload(phone_number=msisdn), (msisdn if own else None), None


def _record_contact(conversation_id: str, msisdn: str) -> None:
    """The identity ledger: this conversation proved it owns `msisdn` (Telegram contact)."""
    from bot.backend import get_backend

    get_backend().identity.record(conversation_id, msisdn, VERIFICATION_METHOD)
