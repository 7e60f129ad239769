"""What the campaigns see of inbound messages (registered with the channels by
`connect_channels()`; `bot serve rasa` calls it): an opt-out from a chat that received a
campaign message is recorded and answered at once (the assistant does not see it); any
other message from such a chat counts as a reply, and the update intent's button
(`/update_subscriber_info`) as the start of the update. The message then goes on to the
assistant as usual: the update flow runs there, with identity from the identity ledger
(a shared Telegram contact, else an OTP), exactly as for any other conversation.
"""

from __future__ import annotations

import asyncio

from bot import texts
from bot.campaigns.rules import CampaignRules
from bot.campaigns.store import CampaignStore
from bot.channels.common import payload_intent, set_inbound_filter
from bot.channels.store import ChannelStore
from bot.conversation_ids import RASA_CHANNEL_NAMES

OPTED_OUT_RESPONSE = "utter_campaign_opted_out"
UPDATE_INTENT = "update_subscriber_info"


class ReplyListener:
    def __init__(self, store: CampaignStore | None = None,
                 channels: ChannelStore | None = None,
                 rules: CampaignRules | None = None) -> None:
        self.store = store or CampaignStore()
        self.channels = channels or ChannelStore(self.store.engine, clock=self.store.clock)
        self.rules = rules or CampaignRules.from_operator()

    def handle(self, channel: str, user_id: str, text: str) -> str | None:
        delivery = self.store.latest_sent_to_chat(channel, user_id)
        if delivery is None:
            return None  # not a campaign conversation: nothing to do
        if self.rules.is_opt_out(text):
            link = self.channels.link(channel, user_id) or {}
            self.store.opt_out(channel, user_id, link.get("verified_msisdn")
                               or delivery.msisdn)
            self.store.mark_reply(delivery.id, update_started=False)
            return texts.text(OPTED_OUT_RESPONSE, RASA_CHANNEL_NAMES.get(channel, channel))
        self.store.mark_reply(delivery.id,
                              update_started=payload_intent(text) == UPDATE_INTENT)
        return None

    async def __call__(self, channel: str, user_id: str, text: str) -> str | None:
        return await asyncio.to_thread(self.handle, channel, user_id, text)


def connect_channels(listener: ReplyListener | None = None) -> None:
    """Let the channels of this process show inbound messages to the campaigns first."""
    set_inbound_filter(listener or ReplyListener())
