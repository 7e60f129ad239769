"""Helpers for action tests: rasa-sdk trackers, the domain as the action server sees it,
and running an action. The `backend` fixture (tests/conftest.py) is a freshly seeded
SQLite database that `bot.backend.get_backend()` returns during the test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rasa.shared.core.domain import Domain
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

DOMAIN_FILE = Path(__file__).resolve().parents[2] / "domain.yml"


@pytest.fixture(scope="session")
def domain() -> dict[str, Any]:
    """The domain as Rasa sends it to the action server (read by Rasa's loader)."""
    return Domain.load(str(DOMAIN_FILE)).as_dict()


@pytest.fixture(autouse=True)
def _daytime(monkeypatch):
    """Occupation offers depend on the local time: tests run at 10:00 unless they change it."""
    monkeypatch.setenv("BOT_ENV", "test")
    monkeypatch.setenv("BOT_FIXED_LOCAL_TIME", "10:00")


def make_tracker(*, slots: dict[str, Any] | None = None, intent: str | None = None,
                 text: str = "", entities: list[dict] | None = None,
                 metadata: dict[str, Any] | None = None, requested_slot: str | None = None,
                 active_loop: str | None = None, set_after_user: dict[str, Any] | None = None,
                 latest_action: str = "action_listen", ranking: list[dict] | None = None,
                 sender_id: str = "tg-1001", proof: bool = True) -> Tracker:
    """A tracker as the action server receives it. `set_after_user` are slot events after
    the latest user message (what a form validation action validates).

    Slots that say the customer is verified are backed by a proof in the backend's identity
    ledger for `sender_id`, as in a real conversation (`proof=False`: forged slots)."""
    all_slots: dict[str, Any] = {"identity_verified": False, **(slots or {})}
    if proof and all_slots.get("identity_verified") and all_slots.get("verified_msisdn"):
        from bot.backend import get_backend

        get_backend().identity.record(sender_id, all_slots["verified_msisdn"], "otp")
    if requested_slot is not None:
        all_slots["requested_slot"] = requested_slot
    all_slots.update(set_after_user or {})
    latest = {"intent": {"name": intent, "confidence": 0.9} if intent else {},
              "entities": entities or [], "text": text, "metadata": metadata or {},
              "intent_ranking": ranking or []}
    events: list[dict[str, Any]] = [{"event": "action", "name": "action_listen"},
                                    {"event": "user", "text": text, "parse_data": latest,
                                     "metadata": metadata or {}}]
    if active_loop:  # Rasa sends the form's own run, then the slot candidates
        events.append({"event": "action", "name": active_loop})
    events += [{"event": "slot", "name": k, "value": v} for k, v in (set_after_user or {}).items()]
    return Tracker(sender_id, all_slots, latest, events, False, None,
                   {"name": active_loop} if active_loop else {}, latest_action)


def verified(msisdn: str, **slots: Any) -> dict[str, Any]:
    return {"identity_verified": True, "verified_msisdn": msisdn, "phone_number": msisdn,
            **slots}


async def run(action: Action, tracker: Tracker, domain: dict[str, Any]
              ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(events, messages) of one action run."""
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, domain)
    return events, dispatcher.messages


def slot_events(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def responses(messages: list[dict[str, Any]]) -> list[str]:
    """The responses said, in order (a joined message counts its parts: actions.common
    join_messages); `len(messages)` is how many messages the customer sees."""
    said: list[str] = []
    for m in messages:
        said += m.get("joined") or [m.get("response")]
    return said
