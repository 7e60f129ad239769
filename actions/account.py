"""Account: balance, top-up history, the self-care app (24-hour consultation rule)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.common import (
    actor,
    backend,
    channel_of,
    format_local,
    mask_msisdn,
    speaks_after_identity,
    utter,
    verified_msisdn,
)
from actions.diagnosis import lead_with_line_state
from actions.occupation import offer_occupation
from bot.backend import format_vnd

_APP_RESPONSES = {
    "installed": "utter_app_installed",
    "feature_phone": "utter_app_feature_phone",
    "sms_sent": "utter_app_sms_sent",
    "consulted_elsewhere": "utter_app_consulted_elsewhere",
    "already_consulted": "utter_app_already_consulted",
}


class ActionCheckBalance(Action):
    def name(self) -> str:
        return "action_check_balance"

    @speaks_after_identity
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        msisdn = verified_msisdn(tracker)
        balance = backend().account.balance(msisdn) if msisdn else None
        if balance is None or msisdn is None:
            return []
        backend().audit.record(actor(tracker), "view_balance", msisdn)
        lead = lead_with_line_state(dispatcher, tracker, msisdn)
        utter(dispatcher, "utter_balance_postpaid" if balance.is_postpaid
              else "utter_balance_prepaid", masked_msisdn=mask_msisdn(msisdn),
              amount=format_vnd(balance.main_vnd), as_of=format_local(balance.as_of))
        return lead or offer_occupation(dispatcher, tracker)


class ActionCheckTopupHistory(Action):
    def name(self) -> str:
        return "action_check_topup_history"

    @speaks_after_identity
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        msisdn = verified_msisdn(tracker)
        if not msisdn:
            return []
        topups = backend().account.topups(msisdn, limit=5)
        backend().audit.record(actor(tracker), "view_topups", msisdn)
        lead = lead_with_line_state(dispatcher, tracker, msisdn)
        if not topups:
            utter(dispatcher, "utter_topups_none", masked_msisdn=mask_msisdn(msisdn))
        else:
            lines = "\n".join(f"- {format_local(t.at)}: {format_vnd(t.amount_vnd)} ({t.channel})"
                              for t in topups)
            utter(dispatcher, "utter_topups", masked_msisdn=mask_msisdn(msisdn), topups=lines)
        return lead or offer_occupation(dispatcher, tracker)


class ActionInstallApp(Action):
    def name(self) -> str:
        return "action_install_app"

    @speaks_after_identity
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        msisdn = verified_msisdn(tracker)
        if not msisdn:
            return []
        consult = backend().account.consult_app(msisdn, channel_of(tracker))
        response = _APP_RESPONSES.get(consult.status)
        if response is None:
            return []
        lead = lead_with_line_state(dispatcher, tracker, msisdn)
        utter(dispatcher, response, hours_left=str(consult.hours_left))
        return lead or offer_occupation(dispatcher, tracker)
