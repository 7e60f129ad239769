"""Helpers shared by the actions: who is talking, the operator profile as response
variables, local time, masking, and a form-validation base class that notices repeated
invalid answers."""

from __future__ import annotations

import functools
import logging
from abc import abstractmethod
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction

from bot import texts
from bot.backend import Backend, get_backend
from bot.backend.reference import Say
from bot.brand import operator, response_variables
from bot.channels.store import ChannelStore
from bot.clock import format_local as format_local  # re-exported for the actions
from bot.clock import local_now as local_now
from bot.conversation_ids import parse_sender_id
from bot.privacy import mask_msisdn as mask_msisdn  # re-exported for the actions

logger = logging.getLogger(__name__)




def backend() -> Backend:
    return get_backend()


def brand_vars() -> dict[str, str]:
    """Response variables for everything brand-specific (one source: bot/operator.yml)."""
    return response_variables(operator())


def utter(dispatcher: CollectingDispatcher, response: str, **variables: Any) -> None:
    """Send a domain response, filling the operator profile and the given variables."""
    dispatcher.utter_message(response=response, **{**brand_vars(), **variables})


def text_slots(tracker: Tracker) -> dict[str, str]:
    """The conversation's text slots ({customer_title}, ...), for responses rendered here."""
    return {name: value for name, value in (tracker.slots or {}).items()
            if isinstance(value, str)}


def sayer(tracker: Tracker) -> Say:
    """Renders a domain response for the tracker's channel (labels put into a response),
    with the conversation's text slots ({customer_title}) as Rasa would fill them."""
    channel = tracker.get_latest_input_channel()
    slots = text_slots(tracker)
    return lambda name, /, **values: texts.text(name, channel, **{**slots, **values})


def channel_and_user(tracker: Tracker) -> tuple[str | None, str | None]:
    """(channel, user id) of this conversation, from its id (`tg-…`, `zalo-…`) as the
    channel code set it; (None, None) for the shell/REST. Never from message metadata,
    which a client of the REST channel can write."""
    return parse_sender_id(tracker.sender_id or "")


def link_chat_to_number(tracker: Tracker, msisdn: str) -> None:
    """Remember that this chat proved `msisdn`, so the call center can find the chat by
    the number later. Best effort: a failure never blocks the customer."""
    channel, user_id = channel_and_user(tracker)
    if not (channel and user_id):
        return
    try:
        ChannelStore(backend().engine).touch_link(channel, user_id, msisdn)
    except Exception as exc:  # noqa: BLE001 - the link is a convenience, not a requirement
        logger.warning("could not link the %s chat to its number: %s", channel,
                       type(exc).__name__)


def channel_of(tracker: Tracker) -> str:
    """The channel name, 'chat' when the conversation has none (shell, REST)."""
    return channel_and_user(tracker)[0] or "chat"


def verified_msisdn(tracker: Tracker) -> str | None:
    """The number proven to belong to the customer in this conversation, from the
    server-side identity ledger (an OTP the backend checked for this conversation, a
    Telegram contact the channel recorded, a call-center transfer through the authenticated
    API). The `verified_msisdn` / `identity_verified` slots only mirror it: a slot set from
    outside proves nothing."""
    return backend().identity.verified_number(tracker.sender_id)


def actor(tracker: Tracker) -> str:
    """Audit actor for the assistant acting in this conversation."""
    return f"assistant:{channel_of(tracker)}"


def latest_intent(tracker: Tracker) -> str | None:
    return (tracker.latest_message.get("intent") or {}).get("name")


def last_action_name(tracker: Tracker, skip: str | None = None) -> str | None:
    """The latest action in the events (Rasa does not send `latest_action_name`),
    ignoring `skip` (a form sees its own run at the end of the events)."""
    for event in reversed(tracker.events or []):
        if event.get("event") == "action" and event.get("name") != skip:
            return event.get("name")
    return None


def previous_bot_action(tracker: Tracker) -> str | None:
    """The assistant's last action before the customer's latest message (not listening)."""
    events = list(tracker.events or [])
    last_user = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=0)
    for event in reversed(events[:last_user]):
        if event.get("event") == "action" and event.get("name") != "action_listen":
            return event.get("name")
    return None


# Where Rasa records which domain response a bot message was (its event's metadata).
_RESPONSE_KEY = "_".join(("utter", "action"))  # not a response name (tests/test_texts.py)


def last_bot_response(tracker: Tracker) -> str | None:
    """The domain response of the assistant's last message."""
    for event in reversed(tracker.events or []):
        if event.get("event") == "bot":
            return (event.get("metadata") or {}).get(_RESPONSE_KEY)
    return None


def said_this_turn(tracker: Tracker) -> list[str]:
    """The responses the assistant sent since the customer's latest message."""
    said: list[str] = []
    for event in reversed(tracker.events or []):
        if event.get("event") == "user":
            break
        if event.get("event") == "bot":
            said.append((event.get("metadata") or {}).get(_RESPONSE_KEY) or "")
    return said[::-1]


def answering_now(tracker: Tracker, slot: str) -> bool:
    """True when a form runs right after the customer's message that answers `slot`
    (not when the form asks again after a side question)."""
    form = (tracker.active_loop or {}).get("name")
    return (tracker.get_slot("requested_slot") == slot
            and last_action_name(tracker, skip=form) == "action_listen")


# --- one thought, one message: "verified" and the answer -----------------------------------
# After a successful identity check the rules go on with the remembered request at once;
# action_identity_result then says nothing itself and the first message of the answer
# starts with this line (a designer edits it in domain.yml).
IDENTITY_LINE = "utter_identity_ok_lead"


def just_verified(tracker: Tracker) -> bool:
    """The identity was proven in this turn (action_identity_result ran after the customer's
    latest message) and nothing has been said since."""
    for event in reversed(tracker.events or []):
        kind = event.get("event")
        if kind in ("bot", "user"):
            return False
        if kind == "action" and event.get("name") == "action_identity_result":
            return True
    return False


def rendered_text(message: dict[str, Any], tracker: Tracker) -> str:
    """The text a dispatcher message will show: its own text, or its response rendered with
    the conversation's slots and its variables (the first variation for the channel)."""
    if message.get("text") or not message.get("response"):
        return str(message.get("text") or "")
    values: dict[str, Any] = text_slots(tracker)
    values.update(brand_vars())
    values.update({k: v for k, v in message.items() if isinstance(v, (str, int))
                   and k not in ("text", "response", "template")})
    return texts.text(message["response"], tracker.get_latest_input_channel(), **values)


# A joined message lists the responses it was made of (designer inbox, tests).
JOINED_KEY = "joined"


def join_messages(dispatcher: CollectingDispatcher, tracker: Tracker, count: int) -> None:
    """The last `count` messages this action sent become one (one thought, one message):
    their texts on separate lines, under the last one's response name and buttons."""
    if count < 2 or len(dispatcher.messages) < count:
        return
    parts = dispatcher.messages[-count:]
    joined = "\n".join(t for t in (rendered_text(m, tracker) for m in parts) if t)
    message: dict[str, Any] = {}
    for part in parts:  # every part's variables (a later part's win), the last one's name
        message.update({k: v for k, v in part.items() if v not in (None, [], {}, "")})
    message.update({**parts[-1], "text": joined, JOINED_KEY: [m.get("response") for m in parts]})
    del dispatcher.messages[-count:]
    dispatcher.messages.append(message)


def join_identity_line(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
    """Put IDENTITY_LINE on top of the first message this action sends, when it is the
    first message after the identity check: "verified" and the answer are one message.
    The message keeps its response name (designer inbox, tests); its text is rendered
    here, with the conversation's slots, as Rasa would render it."""
    messages = [m for m in dispatcher.messages if m.get("response") or m.get("text")]
    msisdn = verified_msisdn(tracker) if messages and just_verified(tracker) else None
    if not msisdn:
        return
    first = messages[0]
    line = texts.text(IDENTITY_LINE, tracker.get_latest_input_channel(),
                      **{**brand_vars(), **text_slots(tracker),
                         "masked_msisdn": mask_msisdn(msisdn)})
    body = rendered_text(first, tracker)
    first["text"] = f"{line}\n{body}" if body else line


def speaks_after_identity(run: Any) -> Any:
    """Decorates the `run` of an action that may be the first to answer after the identity
    check (the remembered request, its form's question): see join_identity_line."""

    @functools.wraps(run)
    async def wrapped(self: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                      domain: dict[str, Any]) -> list[EventType]:
        events: list[EventType] = await run(self, dispatcher, tracker, domain)
        join_identity_line(dispatcher, tracker)
        return events

    return wrapped


MAX_INVALID_ANSWERS = 3
FAILURES_SLOT = "validation_failures"


class RepeatedFailureFormValidation(FormValidationAction):
    """Form validation that counts consecutive invalid answers for the requested slot.

    A `validate_<slot>` method returns `{slot: None}` for an invalid answer. After
    MAX_INVALID_ANSWERS in a row for the same slot, the customer gets the
    `utter_explain_<slot>` response when the domain has one, then an offer of a human agent
    or stopping (`utter_need_more_help`); the counter starts again. Events are only added
    when the customer actually answered the requested slot, so digressions (an FAQ, "stop")
    still make the form reject and let the rules answer.
    """

    uncounted_slots: tuple[str, ...] = ()

    @abstractmethod
    def name(self) -> str:  # pragma: no cover - abstract
        """validate_<form name>"""

    def counts_failure(self, slot: str, dispatcher: CollectingDispatcher) -> bool:
        """Whether this answer for `slot` takes part in the count (after validation ran,
        so the responses it sent are in `dispatcher.messages`)."""
        return slot not in self.uncounted_slots

    @speaks_after_identity
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        requested = tracker.get_slot("requested_slot")
        counts = dict(tracker.get_slot(FAILURES_SLOT) or {})
        events = await super().run(dispatcher, tracker, domain)
        answers = [e for e in events if e.get("event") == "slot" and e.get("name") == requested]
        if requested is None or not answers or not self.counts_failure(requested, dispatcher):
            return events
        failed = answers[-1].get("value") is None
        stopped = any(e.get("event") == "slot" and e.get("name") == "requested_slot"
                      and e.get("value") is None for e in events)
        if failed and not stopped:
            counts[requested] = int(counts.get(requested, 0)) + 1
            if counts[requested] >= MAX_INVALID_ANSWERS:
                explain = f"utter_explain_{requested}"
                if explain in (domain.get("responses") or {}):
                    utter(dispatcher, explain)
                utter(dispatcher, "utter_need_more_help")
                counts[requested] = 0
        elif requested in counts:
            counts.pop(requested)
        else:
            return events
        return [*events, SlotSet(FAILURES_SLOT, counts)]
