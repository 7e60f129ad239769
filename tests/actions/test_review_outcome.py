"""The update form with real photos (refused by content, the same picture twice) and the
status question at every stage of a review: pending with the time left, rejected with the
reason and what to do, approved. Exact events."""

from __future__ import annotations

from actions.subscriber import ActionCheckUpdateStatus
from actions.update_form import ActionSubmitUpdate
from bot.handoff.review import ReviewDesk
from bot.media import media_store
from tests.actions.conftest import make_tracker, responses, run, verified
from tests.actions.test_subscriber import _answer
from tests.media.photos import jpeg_with_gps


def _form_events(slot: str, value, next_slot: str) -> list[dict]:
    """What the form validation returns: the slot, the next slot to ask, the failure count
    when it was refused (RepeatedFailureFormValidation)."""
    events = [{"event": "slot", "timestamp": None, "name": slot, "value": value},
              {"event": "slot", "timestamp": None, "name": "requested_slot", "value": next_slot}]
    if value is None:
        events.append({"event": "slot", "timestamp": None, "name": "validation_failures",
                       "value": {slot: 1}})
    return events


async def test_a_refused_photo_is_answered_and_asked_again(backend, domain):
    events, messages = await _answer(domain, "upd_portrait_photo", None, msisdn="0901000002",
                                     metadata={"photos": [], "photo_problem": "not_image"})
    assert events == _form_events("upd_portrait_photo", None, "upd_portrait_photo")
    assert responses(messages) == ["utter_photo_not_image"]
    _, messages = await _answer(domain, "upd_portrait_photo", None, msisdn="0901000002",
                                metadata={"photos": [], "photo_problem": "too_large"})
    assert messages[0]["response"] == "utter_photo_too_large"
    assert messages[0]["max_photo_mb"] == "10"


async def test_the_same_picture_for_two_photos_is_refused(backend, domain):
    front = media_store().save_photo(jpeg_with_gps()).ref
    again = media_store().save_photo(jpeg_with_gps()).ref  # the same picture sent again
    other = media_store().save_photo(jpeg_with_gps(color=(0, 90, 0))).ref
    events, messages = await _answer(domain, "upd_id_back_photo", None, msisdn="0901000003",
                                     slots={"upd_id_front_photo": front},
                                     metadata={"photos": [again]})
    assert events == _form_events("upd_id_back_photo", None, "upd_id_back_photo")
    assert responses(messages) == ["utter_photo_duplicate"]
    events, messages = await _answer(domain, "upd_id_back_photo", None, msisdn="0901000003",
                                     slots={"upd_id_front_photo": front},
                                     metadata={"photos": [other]})
    assert events == _form_events("upd_id_back_photo", other, "upd_confirm")
    assert responses(messages) == ["utter_photo_received"]


class Sent:
    def __init__(self) -> None:
        self.messages: list[tuple[str, str, str, list | None]] = []

    async def __call__(self, channel, user_id, text, buttons=None, store=None) -> None:
        self.messages.append((channel, user_id, text, buttons))


async def _status(domain, msisdn):
    return await run(ActionCheckUpdateStatus(),
                     make_tracker(slots=verified(msisdn), sender_id="tg-3003"), domain)


async def test_status_tells_the_truth_at_every_stage(backend, clock, domain):
    portrait = media_store().save_photo(jpeg_with_gps()).ref
    slots = verified("0901000002", upd_portrait_photo=portrait, upd_confirm=True)
    await run(ActionSubmitUpdate(), make_tracker(slots=slots, sender_id="tg-3003"), domain)
    request = backend.update_requests.latest("0901000002")
    assert request.conversation_id == "tg-3003"

    clock.advance(hours=10)
    events, messages = await _status(domain, "0901000002")
    assert responses(messages) == ["utter_update_status_pending"]
    assert messages[0]["hours_left"] == "38"

    sent = Sent()
    desk = ReviewDesk(sender=sent)
    await desk.decide(request.id, "lan", request.version, approve=False,
                      reason="portrait_invalid")
    [(channel, user_id, text, buttons)] = sent.messages
    assert (channel, user_id) == ("telegram", "3003")
    assert "chưa được duyệt vì thiếu ảnh chân dung" in text
    assert [b["payload"] for b in buttons] == ["/update_subscriber_info", "/find_store"]
    events, messages = await _status(domain, "0901000002")
    assert events == []
    assert responses(messages) == ["utter_update_status_rejected"]
    assert messages[0]["reason"].startswith("thiếu ảnh chân dung")

    await run(ActionSubmitUpdate(), make_tracker(slots=slots, sender_id="tg-3003"), domain)
    second = backend.update_requests.latest("0901000002")
    await desk.decide(second.id, "lan", second.version, approve=True)
    assert "đã được duyệt" in sent.messages[-1][2]
    assert backend.subscribers.get("0901000002").has_portrait_photo
    events, messages = await _status(domain, "0901000002")
    assert responses(messages)[0] == "utter_update_status_approved"
