"""`action_handoff_to_human`: open a hand-off ticket and pause the assistant.

The logic lives in bot.handoff (dialogue.py, tickets.py, desk.py); this class only reads
the tracker, calls it and answers. Personal data never reaches the log: only ticket ids
and reason codes are logged.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ConversationPaused, EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.common import channel_and_user, text_slots
from bot import metrics
from bot.channels.store import ChannelStore
from bot.conversation_ids import known_channels
from bot.handoff import dialogue
from bot.handoff.desk import desk_status
from bot.handoff.tickets import TicketStore, get_ticket_store

logger = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(timezone.utc)


class ActionHandoffToHuman(Action):
    store: TicketStore | None = None  # tests inject a store; production uses get_ticket_store()

    def name(self) -> str:
        return "action_handoff_to_human"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        events = tracker.events or []
        output_channel = tracker.get_latest_input_channel()  # picks channel variations
        reason, priority = dialogue.derive_reason(events, tracker.get_slot("handoff_reason"))
        channel, user_id = channel_and_user(tracker)
        verified = tracker.get_slot("verified_msisdn") or None
        slots = {name: tracker.get_slot(name) for name in ("service", "location")}
        slots["verified_msisdn"] = verified
        store = self.store or get_ticket_store()
        try:
            ticket = await asyncio.to_thread(
                store.open_ticket, conversation_id=tracker.sender_id, channel=channel,
                user_id=user_id, reason=reason, priority=priority, verified_msisdn=verified,
                summary=dialogue.summary(events, reason, slots),
                transcript=dialogue.transcript(events))
            if verified and channel in known_channels() and user_id:
                # Lets the call center find this chat by the number later.
                await asyncio.to_thread(ChannelStore(store.engine).touch_link, channel,
                                        user_id, verified)
        except Exception as exc:  # database down: never leave the customer in silence
            logger.error("hand-off ticket could not be opened (reason=%s): %s", reason,
                         type(exc).__name__)
            dispatcher.utter_message(text=dialogue.failure_notice(output_channel))
            return []
        metrics.HANDOFFS.labels(reason=reason).inc()
        dispatcher.utter_message(text=dialogue.customer_notice(
            ticket.id, reason, desk_status(_now()), output_channel, text_slots(tracker)))
        logger.info("conversation handed to the human desk: ticket %s (reason=%s)",
                    ticket.id, reason)
        return [ConversationPaused()]
