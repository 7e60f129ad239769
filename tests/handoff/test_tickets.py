"""Ticket service on SQLite and PostgreSQL: opening, queue order, claiming, replies,
closing, optimistic locking, idempotent copying of customer messages, the migration."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

import pytest
from sqlalchemy import create_engine

from bot.handoff.tickets import CustomerMessage, TicketConflict, TicketNotFound, TicketStore
from tests.handoff.helpers import open_args, transcript


def test_open_ticket_stores_transcript_in_order(store):
    ticket = store.open_ticket(**open_args(priority=2))
    assert (ticket.status, ticket.priority, ticket.reason, ticket.version) == \
        ("waiting", 2, "customer_request", 1)
    assert ticket.channel == "telegram" and ticket.user_id == "42"
    assert ticket.synced_until == 1_700_000_001.0
    messages = store.messages(ticket.id)
    assert [(m.role, m.text) for m in messages] == [
        ("customer", "cho em gặp tổng đài viên"), ("bot", "Dạ em chuyển ngay ạ.")]
    assert messages[0].at == datetime.fromtimestamp(1_700_000_000.0, timezone.utc)


def test_public_open_ticket_uses_the_configured_database(handoff_url, monkeypatch):
    from bot.handoff import tickets

    monkeypatch.setenv("BOT_DB_URL", handoff_url)
    view = tickets.open_ticket(**open_args("zalo-u1", channel="zalo", reason="zalo_window"))
    assert TicketStore(handoff_url).require(view.id).reason == "zalo_window"


def test_channels_open_tickets_through_the_connected_desk(handoff_url, monkeypatch):
    """`connect_channels()` (bot serve rasa, the hand-off app) lets a channel hand a
    customer it cannot reach to the desk without importing the hand-off."""
    from bot.channels import common
    from bot.handoff import tickets
    from bot.handoff.texts import handoff_texts

    monkeypatch.setenv("BOT_DB_URL", handoff_url)
    monkeypatch.setattr(common, "_handoff_opener", None)
    monkeypatch.setattr(common, "_awaiting_agent_check", None)  # restored after the test
    tickets.connect_channels()
    assert common.open_handoff_ticket(
        conversation_id="zalo-u9", channel="zalo", user_id="u9", reason="zalo_window",
        priority=2, verified_msisdn=None, transcript=[{"role": "bot", "text": "Dạ"}])
    ticket = TicketStore(handoff_url).active_for_conversation("zalo-u9")
    assert (ticket.reason, ticket.channel, ticket.user_id) == ("zalo_window", "zalo", "u9")
    assert ticket.summary == handoff_texts("summary.zalo_window")


@pytest.mark.parametrize("bad", [{"reason": "angry"}, {"conversation_id": ""}])
def test_open_ticket_rejects_bad_input(store, bad):
    with pytest.raises(ValueError):
        store.open_ticket(**open_args(**bad))


def test_second_request_extends_the_active_ticket(store):
    first = store.open_ticket(**open_args(priority=2))
    again = store.open_ticket(**open_args(
        reason="lost_sim", priority=0, verified_msisdn="0901000001",
        transcript=transcript(("customer", "cho em gặp tổng đài viên"),
                              ("bot", "Dạ em chuyển ngay ạ."),
                              ("customer", "em bị mất sim"))))
    assert again.id == first.id
    assert again.priority == 0 and again.verified_msisdn == "0901000001"
    assert again.version == 2
    roles = [(m.role, m.text) for m in store.messages(first.id)]
    # the two known lines are not copied twice; the new line and a system note are added
    assert roles.count(("customer", "cho em gặp tổng đài viên")) == 1
    assert ("customer", "em bị mất sim") in roles
    assert any(r == "system" and "Mất SIM" in t for r, t in roles)


def test_queue_is_urgent_first_then_oldest(store, clock):
    normal_old = store.open_ticket(**open_args("tg-1", priority=2))
    clock.advance(minutes=1)
    complaint = store.open_ticket(**open_args("tg-2", reason="customer_request", priority=1))
    clock.advance(minutes=1)
    urgent_new = store.open_ticket(**open_args("tg-3", reason="lost_sim", priority=0))
    clock.advance(minutes=1)
    normal_new = store.open_ticket(**open_args("tg-4", priority=2))
    assert [t.id for t in store.queue()] == [urgent_new.id, complaint.id, normal_old.id,
                                            normal_new.id]


def test_claim_first_agent_wins_second_gets_conflict(store):
    ticket = store.open_ticket(**open_args())
    mine = store.claim(ticket.id, "an")
    assert (mine.status, mine.agent, mine.version) == ("open", "an", 2)
    assert store.claim(ticket.id, "an").version == 2  # claiming again is a no-op
    with pytest.raises(TicketConflict) as err:
        store.claim(ticket.id, "binh")
    assert err.value.code == "claimed" and err.value.ticket.agent == "an"
    with pytest.raises(TicketNotFound):
        store.claim(9999, "an")


def test_concurrent_claims_have_exactly_one_winner(store, handoff_url, clock):
    ticket = store.open_ticket(**open_args())
    agents = [f"agent{i}" for i in range(6)]
    results: dict[str, str] = {}
    barrier = threading.Barrier(len(agents))

    def attempt(agent: str) -> None:
        own = TicketStore(handoff_url, clock=clock)
        barrier.wait()
        try:
            own.claim(ticket.id, agent)
            results[agent] = "won"
        except TicketConflict as exc:
            results[agent] = exc.code

    threads = [threading.Thread(target=attempt, args=(a,)) for a in agents]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results.values()).count("won") == 1
    assert set(results.values()) == {"won", "claimed"}
    winner = next(a for a, r in results.items() if r == "won")
    assert store.require(ticket.id).agent == winner


def test_reply_needs_ownership_and_an_active_ticket(store):
    ticket = store.open_ticket(**open_args())
    # replying to a waiting ticket claims it
    message = store.add_agent_message(ticket.id, "an", "  Chào anh, em là An.  ")
    assert (message.role, message.author, message.text, message.delivery) == \
        ("agent", "an", "Chào anh, em là An.", "pending")
    assert store.require(ticket.id).agent == "an"
    with pytest.raises(TicketConflict) as err:
        store.add_agent_message(ticket.id, "binh", "em nhận nhé")
    assert err.value.code == "claimed"
    with pytest.raises(ValueError):
        store.add_agent_message(ticket.id, "an", "   ")
    store.set_delivery(message.id, "sent")
    assert store.messages(ticket.id)[-1].delivery == "sent"
    store.close(ticket.id, "an", "resolved")
    with pytest.raises(TicketConflict) as err:
        store.add_agent_message(ticket.id, "an", "còn gì nữa không ạ")
    assert err.value.code == "closed"
    # nothing from the refused replies was stored
    assert [m.text for m in store.messages(ticket.id) if m.role == "agent"] == \
        ["Chào anh, em là An."]


def test_close_uses_optimistic_locking(store):
    ticket = store.open_ticket(**open_args())
    claimed = store.claim(ticket.id, "an")
    with pytest.raises(TicketConflict) as err:
        store.close(ticket.id, "binh", "resolved")
    assert err.value.code == "claimed"
    with pytest.raises(TicketConflict) as err:
        store.close(ticket.id, "an", "handed_back", expected_version=claimed.version - 1)
    assert err.value.code == "stale"
    closed = store.close(ticket.id, "an", "handed_back", expected_version=claimed.version)
    assert (closed.status, closed.version) == ("handed_back", claimed.version + 1)
    assert closed.closed_at is not None
    with pytest.raises(TicketConflict) as err:
        store.close(ticket.id, "an", "resolved")
    assert err.value.code == "closed"
    with pytest.raises(ValueError):
        store.close(ticket.id, "an", "deleted")
    assert store.queue() == []
    assert store.recently_closed()[0].id == ticket.id
    # the conversation may get a new ticket now
    assert store.open_ticket(**open_args()).id != ticket.id


def test_reopen_after_a_failed_resume(store):
    ticket = store.open_ticket(**open_args())
    store.claim(ticket.id, "an")
    store.close(ticket.id, "an", "resolved")
    reopened = store.reopen(ticket.id, "an")
    assert (reopened.status, reopened.agent, reopened.closed_at) == ("open", "an", None)
    assert store.active_for_conversation("tg-42").id == ticket.id


def test_customer_messages_are_copied_once(store, clock):
    ticket = store.open_ticket(**open_args())
    at = clock()
    items = [CustomerMessage("1700000005.000000", "alo", at, 1_700_000_005.0),
             CustomerMessage("1700000006.000000", "có ai không", at, 1_700_000_006.0)]
    assert store.append_customer_messages(ticket.id, items) == 2
    assert store.append_customer_messages(ticket.id, items) == 0
    assert store.append_customer_messages(ticket.id, items[1:] + [
        CustomerMessage("1700000007.000000", "em chờ nhé", at, 1_700_000_007.0)]) == 1
    texts = [m.text for m in store.messages(ticket.id) if m.role == "customer"]
    assert texts == ["cho em gặp tổng đài viên", "alo", "có ai không", "em chờ nhé"]
    view = store.require(ticket.id)
    assert view.synced_until == 1_700_000_007.0 and view.last_customer_at == at


def test_concurrent_open_for_one_conversation_makes_one_ticket(store, handoff_url, clock):
    ids: list[int] = []
    barrier = threading.Barrier(4)

    def attempt() -> None:
        own = TicketStore(handoff_url, clock=clock)
        barrier.wait()
        ids.append(own.open_ticket(**open_args()).id)

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(ids) == 4 and len(set(ids)) == 1
    assert len(store.queue()) == 1


def test_find_chat_uses_the_channels_links(store, handoff_url):
    from bot.channels.store import ChannelStore

    assert store.find_chat("0901000002") is None
    ChannelStore(store.engine).touch_link("telegram", "777", "0901000002")
    link = store.find_chat("0901000002")
    assert (link.channel, link.user_id, link.msisdn) == ("telegram", "777", "0901000002")


def test_migration_matches_the_models(handoff_url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    import bot.handoff.models  # noqa: F401 - registers the tables
    from bot.database import Base

    engine = create_engine(handoff_url, future=True)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert [d for d in diff if "handoff" in repr(d)] == []
