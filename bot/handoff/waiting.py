"""A customer waiting for a human: the short "an agent will reply" line.

While a conversation has an active hand-off ticket and no agent has replied in it yet, the
assistant is paused and a new customer message would get silence. The channels' inbox
worker asks `awaiting_agent_notice(channel, user_id, output_channel)` after a turn without
output (through `bot.channels.common.awaiting_agent_notice_due`, registered by
`bot.handoff.tickets.connect_channels()`); a text means "send this line of
`utter_handoff_awaiting_agent` now". At most once per
`human_desk.awaiting_notice_minutes` (bot/operator.yml) per conversation, never the same
variation twice in a row, and never once an agent has replied: the notice is recorded in the ticket
(`TicketStore.claim_awaiting_notice`), so the agent sees it in the transcript and every Rasa
instance keeps the same limit.
"""

from __future__ import annotations

from datetime import timedelta

from bot import texts
from bot.brand import operator
from bot.channels.common import AWAITING_AGENT_RESPONSE
from bot.conversation_ids import sender_id
from bot.handoff.tickets import get_ticket_store


def notice_interval() -> timedelta:
    """The least time between two notices of one conversation (operator.yml)."""
    return timedelta(minutes=float(operator()["human_desk"]["awaiting_notice_minutes"]))


def awaiting_agent_notice(channel: str, user_id: str, output_channel: str | None = None
                          ) -> str | None:
    """The line to tell the customer of (channel, user_id) now that an agent will reply, in
    the words of the Rasa channel `output_channel`, or None (see the module docstring). The
    line is the variation after the one sent last time in this ticket (never the same twice
    in a row) and is recorded in the ticket."""
    store = get_ticket_store()
    conversation = sender_id(channel, user_id)
    line = texts.text(AWAITING_AGENT_RESPONSE, output_channel,
                      after=store.last_awaiting_notice(conversation))
    return line if store.claim_awaiting_notice(conversation, notice_interval(), line) else None
