"""Zalo Official Account as a Rasa input channel (Rasa name `zalo`).

Webhook: POST /webhooks/zalo/webhook. The event is verified (X-ZEvent-Signature, timestamp
window); a user message is stored in the inbox (key `msg_id`: a re-delivery is recognised)
and only then answered 200; the inbox worker processes it (bot.channels.worker). Replies go
through the OA customer-service message API, retried on rate limits and connection
failures, never twice (bot.channels.delivery); the access token lives in the DB and is
refreshed by one caller at a time on error -216.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import texts
from bot.channels.common import (
    PHOTO_TEXT,
    OnNewMessage,
    channel_notice,
    env_or,
    max_webhook_bytes,
    open_handoff_ticket,
    prepare_typed_text,
    read_body,
    split_text,
)
from bot.channels.delivery import PERMANENT, RETRY, UNKNOWN_OUTCOME, Verdict, deliver
from bot.channels.inbound import InboxInput
from bot.channels.inbox_config import InboxSettings, parse_delays
from bot.channels.inbox_store import InboxRow, InboxStore
from bot.channels.media import fetch_zalo_photos
from bot.channels.store import ChannelStore
from bot.channels.worker import BufferedOutput
from bot.conversation_ids import ZALO, sender_id, user_id_from_recipient

logger = logging.getLogger(__name__)

CHANNEL_NAME = "zalo"
SIGNATURE_HEADER = "X-ZEvent-Signature"
DEFAULT_API_BASE_URL = "https://openapi.zalo.me"
DEFAULT_OAUTH_BASE_URL = "https://oauth.zaloapp.com"
MAX_MESSAGE_CHARS = 2000  # Zalo's limit for one customer-service text
MAX_BUTTONS = 5  # buttons per Zalo button template
ERROR_TOKEN_EXPIRED = -216
# Outside the customer-service window: -213 (documented: the user has not interacted
# with the OA recently / does not follow it) and -230 (observed: no interaction in 7 days).
WINDOW_ERRORS = frozenset({-213, -230})
# Rate limits (documented: -32, the app exceeded its requests per minute): retried.
RATE_LIMIT_ERRORS = frozenset({-32})
WINDOW_TICKET_PRIORITY = 2  # hand-off priority: 0 urgent ... 2 normal
NOT_CONFIGURED = {"error": "zalo channel not configured"}
TOO_LARGE = {"error": "request body too large"}
MAX_USER_ID_CHARS = 64  # channel_links.user_id
MAX_MSG_ID_CHARS = 120  # channel_processed_inbound.external_id
# "timestamp": "1700000000000" (or a number) in the raw body; a key inside a string value
# would be escaped (\"timestamp\") and is not matched.
_TIMESTAMP = re.compile(rb'(?<!\\)"timestamp"\s*:\s*"?([0-9]{1,19})"?')
MAX_TIMESTAMP_CANDIDATES = 4
IGNORED_EVENTS = frozenset({"user_received_message", "user_seen_message",
                            "user_submit_info", "user_reacted_message"})


class ZaloApiError(RuntimeError):
    def __init__(self, code: int, message: str = "") -> None:
        super().__init__(f"Zalo API error {code}: {message}")
        self.code = code


class ZaloWindowClosed(ZaloApiError):
    """The customer is outside the customer-service window (no free-form message possible)."""


class ZaloHttpError(RuntimeError):
    """The OA API answered an HTTP error status (429, 5xx) instead of its JSON."""

    def __init__(self, status: int) -> None:
        super().__init__(f"Zalo API HTTP {status}")
        self.status = status


def classify_error(exc: BaseException) -> Verdict:
    """What a failed customer-service send means for a retry (bot.channels.delivery)."""
    if isinstance(exc, ZaloApiError):
        return Verdict(RETRY if exc.code in RATE_LIMIT_ERRORS else PERMANENT)
    if isinstance(exc, ZaloHttpError):
        return Verdict(RETRY if exc.status == 429 or exc.status >= 500 else PERMANENT)
    if isinstance(exc, aiohttp.ClientConnectorError):  # never connected: not sent
        return Verdict(RETRY)
    if isinstance(exc, (asyncio.TimeoutError, aiohttp.ClientError)):
        return Verdict(UNKNOWN_OUTCOME)  # the request may have reached Zalo
    return Verdict(PERMANENT)


@dataclass(frozen=True)
class ZaloConfig:
    app_id: str | None
    oa_secret_key: str | None
    app_secret_key: str | None = None
    access_token: str | None = None
    refresh_token: str | None = None
    oa_id: str | None = None
    api_base_url: str = DEFAULT_API_BASE_URL
    oauth_base_url: str = DEFAULT_OAUTH_BASE_URL
    max_event_age_s: float = 300.0
    # Delays between processing attempts of one message (ZALO_RETRY_DELAYS_S); None: the
    # inbox's (operator.yml channel_inbox.retry_delays_seconds).
    retry_delays_s: tuple[float, ...] | None = None

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None = None) -> ZaloConfig:
        """credentials.yml values win; otherwise ZALO_* environment variables."""
        def get(key: str, env: str, default: str | None = None) -> str | None:
            return env_or(credentials, key, env, default)

        delays = get("retry_delays_s", "ZALO_RETRY_DELAYS_S")
        return cls(
            app_id=get("app_id", "ZALO_APP_ID"),
            oa_secret_key=get("oa_secret_key", "ZALO_OA_SECRET_KEY"),
            app_secret_key=get("app_secret_key", "ZALO_APP_SECRET_KEY"),
            access_token=get("access_token", "ZALO_ACCESS_TOKEN"),
            refresh_token=get("refresh_token", "ZALO_REFRESH_TOKEN"),
            oa_id=get("oa_id", "ZALO_OA_ID"),
            api_base_url=(get("api_base_url", "ZALO_API_BASE_URL") or DEFAULT_API_BASE_URL
                          ).rstrip("/"),
            oauth_base_url=(get("oauth_base_url", "ZALO_OAUTH_BASE_URL")
                            or DEFAULT_OAUTH_BASE_URL).rstrip("/"),
            max_event_age_s=float(get("max_event_age_s", "ZALO_MAX_EVENT_AGE_S", "300")
                                  or 300),
            retry_delays_s=parse_delays(delays),
        )

    @property
    def configured(self) -> bool:
        return bool(self.app_id and self.oa_secret_key)

    @property
    def oa_key(self) -> str:
        """Key of the token row: the OA id, else the app id."""
        return self.oa_id or self.app_id or "default"


def signature(app_id: str, raw_body: bytes, timestamp: str, oa_secret_key: str) -> str:
    """Zalo's event MAC: hex sha256(app_id + raw body + timestamp + OA secret key)."""
    digest = hashlib.sha256()
    for part in (app_id.encode(), raw_body, timestamp.encode(), oa_secret_key.encode()):
        digest.update(part)
    return digest.hexdigest()


# One asyncio lock per OA and event loop: single-flight refresh inside a process.
_REFRESH_LOCKS: dict[tuple[str, int], asyncio.Lock] = {}


def _refresh_lock(oa_key: str) -> asyncio.Lock:
    key = (oa_key, id(asyncio.get_running_loop()))
    if key not in _REFRESH_LOCKS:
        _REFRESH_LOCKS[key] = asyncio.Lock()
    return _REFRESH_LOCKS[key]


class ZaloClient:
    """The OA customer-service message API with a shared, self-refreshing access token."""

    def __init__(self, config: ZaloConfig, store: ChannelStore,
                 refresh_wait_s: float = 30.0) -> None:
        self.config = config
        self.store = store
        self.refresh_wait_s = refresh_wait_s

    async def send(self, user_id: str, message: dict[str, Any],
                   token: Any = None) -> dict[str, Any]:
        """One message; `token`: the access token read beforehand (`current_token`), else
        read now."""
        body = {"recipient": {"user_id": user_id}, "message": message}
        token = token or await self._token()
        result = await self._post_cs(token.access_token, body)
        if result.get("error") == ERROR_TOKEN_EXPIRED:
            token = await self.refresh(token.version)
            result = await self._post_cs(token.access_token, body)
        code = int(result.get("error", -1))
        if code in WINDOW_ERRORS:
            raise ZaloWindowClosed(code, str(result.get("message", "")))
        if code != 0:
            raise ZaloApiError(code, str(result.get("message", "")))
        return result

    async def _post_cs(self, access_token: str, body: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.config.api_base_url}/v3.0/oa/message/cs"
        headers = {"access_token": access_token, "Content-Type": "application/json"}
        timeout = aiohttp.ClientTimeout(total=15)
        async with aiohttp.ClientSession(timeout=timeout) as session, session.post(
                url, data=json.dumps(body, ensure_ascii=False).encode(),
                headers=headers) as resp:
            if resp.status == 429 or resp.status >= 500:
                raise ZaloHttpError(resp.status)
            result = await resp.json(content_type=None)
        return result if isinstance(result, dict) else {"error": -1}

    async def current_token(self) -> Any:
        """The shared access token (read from the channel database)."""
        return await self._token()

    async def _token(self):
        row = await self.store.run(self.store.token, self.config.oa_key)
        if row is None and self.config.access_token:
            await self.store.run(self.store.seed_token, self.config.oa_key,
                                 self.config.access_token, self.config.refresh_token or "")
            row = await self.store.run(self.store.token, self.config.oa_key)
        if row is None:
            raise ZaloApiError(ERROR_TOKEN_EXPIRED, "no OA access token configured")
        return row

    async def refresh(self, failed_version: int):
        """Get a fresh token after `failed_version` was rejected. Only one caller refreshes:
        an asyncio lock inside this process, a DB lease (compare-and-swap) across instances;
        everyone else reuses the newer token."""
        oa_key = self.config.oa_key
        async with _refresh_lock(oa_key):
            deadline = time.monotonic() + self.refresh_wait_s
            while True:
                row = await self.store.run(self.store.token, oa_key)
                if row is None:
                    raise ZaloApiError(ERROR_TOKEN_EXPIRED, "no OA access token stored")
                if row.version > failed_version:
                    return row
                if await self.store.run(self.store.take_refresh_lease, oa_key, row.version):
                    break
                if time.monotonic() > deadline:
                    raise ZaloApiError(ERROR_TOKEN_EXPIRED, "token refresh by another "
                                                            "instance did not finish")
                await asyncio.sleep(0.2)
            try:
                access, refresh = await self._call_oauth(row.refresh_token)
            except Exception:
                await self.store.run(self.store.release_refresh_lease, oa_key, row.version)
                raise
            await self.store.run(self.store.save_refreshed, oa_key, row.version, access,
                                 refresh)
            logger.info("Zalo OA access token refreshed (version %s)", row.version + 1)
            return await self.store.run(self.store.token, oa_key)

    async def _call_oauth(self, refresh_token: str) -> tuple[str, str]:
        url = f"{self.config.oauth_base_url}/v4/oa/access_token"
        form = {"refresh_token": refresh_token, "app_id": self.config.app_id or "",
                "grant_type": "refresh_token"}
        headers = {"secret_key": self.config.app_secret_key or ""}
        timeout = aiohttp.ClientTimeout(total=15)
        async with aiohttp.ClientSession(timeout=timeout) as session, session.post(
                url, data=form, headers=headers) as resp:
            result = await resp.json(content_type=None)
        if not isinstance(result, dict) or not result.get("access_token"):
            code = result.get("error", -1) if isinstance(result, dict) else -1
            logger.error("Zalo OA token refresh failed (error %s): an operator must "
                         "re-authorise the OA", code)
            raise ZaloApiError(int(code), "token refresh failed")
        return str(result["access_token"]), str(result.get("refresh_token") or refresh_token)


def button_template(text: str, buttons: list[dict[str, Any]]) -> dict[str, Any]:
    """Rasa buttons -> a Zalo button template (a click sends the payload as the user's text)."""
    return {
        "text": text,
        "attachment": {"type": "template", "payload": {
            "template_type": "button",
            "buttons": [{"title": str(b.get("title") or b.get("payload"))[:100],
                         "type": "oa.query.show",
                         "payload": str(b.get("payload") or b.get("title"))[:1000]}
                        for b in buttons],
        }},
    }


class ZaloOutput(OutputChannel):
    """Sends Rasa's responses to a Zalo user (recipient `zalo-<user_id>` or `<user_id>`)."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL_NAME

    def __init__(self, config: ZaloConfig, store: ChannelStore | None = None,
                 settings: InboxSettings | None = None) -> None:
        self.config = config
        self.settings = settings  # retries of the sends (None: operator.yml)
        self.store = store or ChannelStore()
        self.client = ZaloClient(config, self.store)
        self.raise_window_errors = False  # outbound.send_text wants the exception
        self._ticket_opened: set[str] = set()

    async def _deliver(self, recipient_id: str, message: dict[str, Any]) -> None:
        user_id = user_id_from_recipient(ZALO, recipient_id)
        # The token is read before the send is recorded as in progress: a database failure
        # there must not leave an outbox row "sending" for a message that never left
        # (it would count as maybe delivered and never be sent).
        token = await self.client.current_token()
        try:
            await deliver(ZALO, user_id, InboxStore(self.store.engine, self.store.clock),
                          lambda: self.client.send(user_id, message, token), classify_error,
                          self.settings)
        except ZaloWindowClosed as exc:
            logger.error("Zalo user %s is outside the 48-hour customer-service window "
                         "(error %s): message not delivered, conversation marked for a "
                         "human follow-up", user_id, exc.code)
            await self._mark_for_follow_up(user_id, message.get("text", ""))
            if self.raise_window_errors:
                raise
        except ZaloApiError as exc:
            if exc.code == ERROR_TOKEN_EXPIRED or exc.code in RATE_LIMIT_ERRORS \
                    or self.raise_window_errors:
                raise  # a rate limit still refused after the retries: the inbox retries
            logger.error("Zalo refused a message to %s: error %s", user_id, exc.code)

    async def _mark_for_follow_up(self, user_id: str, text: str) -> None:
        if user_id in self._ticket_opened:
            return
        self._ticket_opened.add(user_id)
        link = await self.store.run(self.store.link, ZALO, user_id)
        await asyncio.to_thread(
            open_handoff_ticket, conversation_id=sender_id(ZALO, user_id), channel=ZALO,
            user_id=user_id, reason="zalo_window", priority=WINDOW_TICKET_PRIORITY,
            verified_msisdn=(link or {}).get("verified_msisdn"),
            transcript=[{"role": "bot", "text": text}] if text else [])

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        for piece in split_text(text, MAX_MESSAGE_CHARS):
            await self._deliver(recipient_id, {"text": piece})

    async def send_text_with_buttons(self, recipient_id: str, text: str,
                                     buttons: list[dict[str, Any]], **kwargs: Any) -> None:
        pieces = split_text(text, MAX_MESSAGE_CHARS) or ["…"]
        for piece in pieces[:-1]:
            await self._deliver(recipient_id, {"text": piece})
        groups = [buttons[i:i + MAX_BUTTONS] for i in range(0, len(buttons), MAX_BUTTONS)]
        for index, group in enumerate(groups or [[]]):
            label = (pieces[-1] if index == 0
                     else channel_notice("utter_channel_more_options", CHANNEL_NAME))
            message = button_template(label, group) if group else {"text": label}
            await self._deliver(recipient_id, message)

    async def send_quick_replies(self, recipient_id: str, text: str,
                                 quick_replies: list[dict[str, Any]], **kwargs: Any) -> None:
        await self.send_text_with_buttons(recipient_id, text, quick_replies)

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self._deliver(recipient_id, {"attachment": {"type": "template", "payload": {
            "template_type": "media", "elements": [{"media_type": "image", "url": image}]}}})

    async def send_attachment(self, recipient_id: str, attachment: Any, **kwargs: Any) -> None:
        if isinstance(attachment, str):
            await self.send_text_message(recipient_id, attachment)

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any],
                               **kwargs: Any) -> None:
        """Only `{"text": ...}` is rendered; `request_contact` has no Zalo form (the text
        of the same response already asked for the number)."""
        if isinstance(json_message, dict) and json_message.get("text") \
                and not json_message.get("request_contact"):
            await self.send_text_message(recipient_id, str(json_message["text"]))


class ZaloInput(InboxInput, InputChannel):
    """Receives Zalo OA webhook events."""

    inbox_name = ZALO
    config: ZaloConfig

    @classmethod
    def name(cls) -> str:
        return CHANNEL_NAME

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> ZaloInput:
        return cls(ZaloConfig.from_credentials(credentials))

    def __init__(self, config: ZaloConfig, store: ChannelStore | None = None) -> None:
        super().__init__(config, store)
        if not config.configured:
            logger.warning("Zalo channel loaded without ZALO_APP_ID/ZALO_OA_SECRET_KEY: its "
                           "webhook answers 503 until they are configured")

    def get_output_channel(self) -> OutputChannel | None:
        if not self.config.configured:
            return None
        return ZaloOutput(self.config, self.store, self.settings())

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        texts.domain()  # the notices' domain is read at start-up, not on a first message
        hook = Blueprint("zalo_webhook", __name__)

        @hook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok", "configured": self.config.configured})

        @hook.route("/webhook", methods=["POST"], stream=True)
        async def receive(request: Request) -> HTTPResponse:
            if not self.config.configured:
                return response.json(NOT_CONFIGURED, status=503)
            # Read at most limits.max_webhook_bytes: a larger body is refused (413) before
            # it is buffered.
            raw_body = await read_body(request, max_webhook_bytes())
            if raw_body is None:
                return response.json(TOO_LARGE, status=413)
            status, body = await self.handle_request(request.headers.get(SIGNATURE_HEADER),
                                                     raw_body, on_new_message)
            return response.json(body, status=status)

        self.add_worker_listeners(hook, on_new_message)
        return hook

    def verify(self, signature_header: str | None, raw_body: bytes,
               now_ms: int | None = None) -> tuple[int, dict[str, Any]] | str:
        """Check the signature and the timestamp on the raw bytes, before any parsing.
        Returns the signed timestamp, or the (status, body) refusal."""
        mac = (signature_header or "").strip()
        mac = mac[4:] if mac.startswith("mac=") else mac
        mac_bytes = mac.lower().encode("utf-8", "replace")
        timestamp = None
        if mac:
            # The MAC covers a timestamp taken from the body: try the (few) candidates the
            # raw bytes hold; without the OA secret none of them can be made to match.
            for candidate in _timestamp_candidates(raw_body):
                expected = signature(self.config.app_id or "", raw_body, candidate,
                                     self.config.oa_secret_key or "")
                if hmac.compare_digest(mac_bytes, expected.encode()):
                    timestamp = candidate
                    break
        if timestamp is None:
            return 403, {"error": "wrong signature"}
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        if abs(now_ms - int(timestamp)) > self.config.max_event_age_s * 1000:
            return 403, {"error": "stale timestamp"}
        return timestamp

    async def handle_request(self, signature_header: str | None, raw_body: bytes,
                             on_new_message: OnNewMessage,
                             now_ms: int | None = None) -> tuple[int, dict[str, Any]]:
        """Verify and accept an event; the processing runs after the answer.

        Order: size (413), signature and timestamp window on the raw bytes (403), and only
        then JSON parsing and the event's fields (400). Nothing before the signature
        touches the database."""
        if not self.config.configured:
            return 503, NOT_CONFIGURED
        raw_body = raw_body or b""
        if len(raw_body) > max_webhook_bytes():
            return 413, TOO_LARGE
        verified = self.verify(signature_header, raw_body, now_ms)
        if not isinstance(verified, str):
            return verified
        try:
            data = json.loads(raw_body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return 400, {"error": "body is not JSON"}
        if not isinstance(data, dict):
            return 400, {"error": "event is not a JSON object"}
        if str(data.get("timestamp", "")) != verified:
            return 400, {"error": "timestamp does not match the signed one"}
        event = data.get("event_name")
        if not isinstance(event, str) or not event:
            return 400, {"error": "event_name missing"}
        if event.startswith("oa_send") or event in IGNORED_EVENTS or "_group" in event:
            # group events (Zalo group messages): the assistant serves one-to-one chats only
            return 200, {"status": "ignored"}
        if event in ("follow", "unfollow"):
            user_id = _id(_nested(data, "follower", "id")) or _id(_nested(data, "sender", "id"))
            if user_id and event == "follow":
                self._spawn(self.store.run(self.store.touch_link, ZALO, user_id))
            logger.info("Zalo %s event", event)
            return 200, {"status": "noted"}
        if not event.startswith("user_send_"):
            logger.info("Zalo event %s ignored", event)
            return 200, {"status": "ignored"}
        user_id = _id(_nested(data, "sender", "id"))
        msg_id = _id(_nested(data, "message", "msg_id"), MAX_MSG_ID_CHARS)
        if not user_id or not msg_id or not isinstance(data.get("message"), dict):
            return 400, {"error": "sender.id or message.msg_id missing"}
        return await self.accept_inbound(msg_id, user_id, data, on_new_message, wait=False)

    # -- the inbox worker's side ------------------------------------------------------
    def delivery_output(self) -> ZaloOutput:
        return ZaloOutput(self.config, self.store, self.settings())

    async def process_inbound(self, row: InboxRow, output: BufferedOutput,
                              on_new_message: OnNewMessage) -> None:
        """One stored event: to Rasa (or a notice), everything the customer is sent going
        into `output` (delivered by the worker once the turn is complete)."""
        data = row.payload or {}
        await self._handle(str(data.get("event_name")), data, self.recipient(row), output,
                           on_new_message)

    async def _handle(self, event: str, data: dict[str, Any], user_id: str,
                      output: OutputChannel, on_new_message: OnNewMessage) -> None:
        await self.store.run(self.store.touch_link, ZALO, user_id)
        message = data.get("message") or {}
        metadata: dict[str, Any] = {"channel": ZALO, "user_id": user_id}
        if event == "user_send_text":
            typed = message.get("text")
            # A click on an oa.query.show button arrives as typed text: payloads of the
            # domain's intents pass, control commands (`/restart`, ...) are neutralised.
            text, problem = prepare_typed_text(typed if isinstance(typed, str) else "",
                                               allow_payloads=True, channel=CHANNEL_NAME)
            if problem:
                await output.send_text_message(user_id, problem)
                return
        elif event == "user_send_image":
            # Only images Zalo delivered count as photos (never a typed link).
            photos = [str(a["payload"]["url"]) for a in message.get("attachments") or []
                      if isinstance(a, dict) and isinstance(a.get("payload"), dict)
                      and isinstance(a["payload"].get("url"), str) and a["payload"]["url"]]
            if not photos:
                await output.send_text_message(
                    user_id, channel_notice("utter_channel_unsupported", CHANNEL_NAME))
                return
            metadata["photos"] = photos
            await fetch_zalo_photos(metadata)  # URLs -> checked, encrypted copies
            caption = message.get("text")
            text = None
            if isinstance(caption, str) and caption.strip():
                text = prepare_typed_text(caption, allow_payloads=True,
                                          channel=CHANNEL_NAME)[0]
            text = text or PHOTO_TEXT
        else:
            await output.send_text_message(
                user_id, channel_notice("utter_channel_unsupported", CHANNEL_NAME))
            return
        await on_new_message(UserMessage(text, output, sender_id(ZALO, user_id),
                                         input_channel=self.name(), metadata=metadata))


def _timestamp_candidates(raw_body: bytes) -> list[str]:
    """Values of "timestamp" keys in the raw JSON (at most a few, in order)."""
    found: list[str] = []
    for match in _TIMESTAMP.finditer(raw_body):
        value = match.group(1).decode()
        if value not in found:
            found.append(value)
            if len(found) >= MAX_TIMESTAMP_CANDIDATES:
                break
    return found


def _id(value: Any, limit: int = MAX_USER_ID_CHARS) -> str | None:
    """A Zalo id (string or number) as a string; None for anything else or too long."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    text = str(value).strip()
    return text if 0 < len(text) <= limit else None


def _nested(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data
