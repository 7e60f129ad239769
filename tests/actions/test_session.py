"""action_session_start: operator profile in slots; a conversation a human owns stays paused."""

from __future__ import annotations

from actions.flow import ActionSessionStart
from bot.handoff.tickets import get_ticket_store
from tests.actions.conftest import make_tracker, run


async def test_new_session_sets_brand_slots_and_listens(backend, domain):
    events, messages = await run(ActionSessionStart(), make_tracker(sender_id="tg-501"), domain)
    assert [e["event"] for e in events][:1] == ["session_started"]
    assert (events[-1]["event"], events[-1]["name"]) == ("action", "action_listen")
    slots = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    assert slots["hotline"] == "9090"
    assert messages == []


async def test_new_session_stays_paused_while_a_human_owns_the_chat(backend, domain):
    get_ticket_store().open_ticket(conversation_id="tg-502", channel="telegram", user_id="502",
                            reason="customer_request", priority=2, verified_msisdn=None,
                            summary="Khách muốn gặp nhân viên", transcript=[])
    events, _ = await run(ActionSessionStart(), make_tracker(sender_id="tg-502"), domain)
    assert events[-1]["event"] == "pause"
    # another customer's new session is not paused
    other, _ = await run(ActionSessionStart(), make_tracker(sender_id="tg-503"), domain)
    assert all(e["event"] != "pause" for e in other)


def test_default_fallback_does_not_say_still(domain):
    # utter_default is also the core fallback for the FIRST message no rule expects (e.g. a
    # code typed after the OTP lock), so "vẫn chưa hiểu" (still not understood) was wrong
    text = domain["responses"]["utter_default"][0]["text"]
    assert "vẫn" not in text and text.startswith("Dạ, em xin lỗi")
