"""The Decree-49 review desk: the back office decides update requests, the customer hears
the outcome on the channel they used.

`ReviewDesk` is what the console (review_routes.py) and `bot review` (review_cli.py) both
use: the queue, one request with its photos (decrypted from bot/media for a reviewer
only), approve / reject with a reason of bot/operator.yml `review.reject_reasons`, every
view and decision audited (`audit_log`: reviewer, action, subscriber id, request id; no
personal data). The decision itself is the backend's (`update_requests.decide`: one
transaction, optimistic version). The outcome goes to the customer's conversation through
`bot.channels.outbound.send_text`; when that channel cannot take it (Zalo outside its
48-hour window, a channel error, a conversation from a channel without push) it is queued
as an SMS in the backend's outbox instead: never dropped.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from bot import texts
from bot.backend import Backend, get_backend
from bot.backend.update_requests import ReviewConflict, reject_reasons, retention
from bot.backend.views import ReviewDecision, ReviewDetail, UpdateRequestView
from bot.channels.outbound import send_text
from bot.conversation_ids import RASA_CHANNEL_NAMES, parse_sender_id
from bot.media import MediaStore, media_store

log = logging.getLogger(__name__)

__all__ = ["ReviewConflict", "ReviewDesk", "ReviewError", "hours_left", "reason_text"]

Sender = Callable[..., Awaitable[None]]
PHOTO_KINDS = ("id_front", "id_back", "portrait")


class ReviewError(ValueError):
    """A request the desk refuses: `code` in not_found | bad_reason | note_required |
    no_photo."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def reason_text(code: str | None, note: str | None, channel: str | None = None) -> str:
    """The customer's wording of a rejection reason (utter_review_reason_<code>)."""
    name = f"utter_review_reason_{code}"
    if not texts.has_response(name):
        name = "utter_review_reason_other"
    return texts.text(name, channel, note=note or "-")


def hours_left(due: datetime, now: datetime) -> int:
    """Whole hours until `due`, rounded up (0 when it has passed)."""
    return max(0, math.ceil((due - now).total_seconds() / 3600))


def outcome_message(decision: ReviewDecision, channel: str | None) -> dict[str, Any]:
    """The response (text and buttons) that tells the customer the decision."""
    request = decision.request
    if request.status == "approved":
        change = ("utter_review_change_unblocked" if decision.unblocked else
                  "utter_review_change_complete" if decision.complete else
                  "utter_review_change_partial")
        return texts.response("utter_review_approved", channel, request_id=request.id,
                              changes=texts.text(change, channel))
    return texts.response("utter_review_rejected", channel, request_id=request.id,
                          reason=reason_text(request.reject_reason, request.reject_note,
                                             channel))


class ReviewDesk:
    def __init__(self, backend: Backend | None = None, media: MediaStore | None = None,
                 sender: Sender | None = None) -> None:
        self._backend = backend
        self._media = media
        self.sender: Sender = sender or send_text

    @property
    def backend(self) -> Backend:
        return self._backend or get_backend()

    @property
    def media(self) -> MediaStore:
        return self._media or media_store()

    def _audit(self, reviewer: str, action: str, detail: ReviewDetail | None,
               request_id: int) -> None:
        self.backend.audit.record(f"reviewer:{reviewer}", action,
                                  detail.msisdn if detail else None, request_id)

    # ----------------------------------------------------------------- reading
    def queue(self) -> list[UpdateRequestView]:
        """Pending requests: overdue first, then oldest first."""
        return self.backend.update_requests.pending()

    def show(self, request_id: int, reviewer: str) -> ReviewDetail:
        detail = self.backend.update_requests.detail(request_id)
        if detail is None:
            raise ReviewError("not_found")
        self._audit(reviewer, "review_view", detail, request_id)
        return detail

    def photo(self, request_id: int, kind: str, reviewer: str) -> tuple[bytes, str]:
        """The decrypted photo `kind` of a request (audited); ReviewError otherwise."""
        detail = self.backend.update_requests.detail(request_id)
        if detail is None:
            raise ReviewError("not_found")
        ref = detail.photos.get(kind) if kind in PHOTO_KINDS else None
        loaded = self.media.load(ref) if ref else None
        if loaded is None:
            raise ReviewError("no_photo")
        self._audit(reviewer, f"review_photo_{kind}", detail, request_id)
        return loaded

    # ---------------------------------------------------------------- deciding
    async def decide(self, request_id: int, reviewer: str, version: int, approve: bool,
                     reason: str | None = None, note: str | None = None
                     ) -> tuple[ReviewDecision, str]:
        """Decide (ReviewConflict when another reviewer was first), audit, tell the
        customer. Returns the decision and how the customer was told."""
        if not approve:
            if reason not in reject_reasons():
                raise ReviewError("bad_reason")
            if reason == "other" and not (note or "").strip():
                raise ReviewError("note_required")
        try:
            decision = await asyncio.to_thread(
                self.backend.update_requests.decide, request_id, approve=approve,
                reviewer=reviewer, version=version, reason=None if approve else reason,
                note=None if approve else note)
        except KeyError:
            raise ReviewError("not_found") from None
        await asyncio.to_thread(self.backend.audit.record, f"reviewer:{reviewer}",
                                 "review_approve" if approve else "review_reject",
                                 decision.msisdn, request_id)
        via = await self.notify(decision)
        return decision, via

    async def notify(self, decision: ReviewDecision) -> str:
        """Tell the customer on their conversation's channel, else by SMS. Returns the way
        used: telegram | zalo | sms."""
        request = decision.request
        channel, user_id = parse_sender_id(request.conversation_id or "")
        if channel is not None and user_id is not None:
            message = outcome_message(decision, RASA_CHANNEL_NAMES.get(channel))
            try:
                await self.sender(channel, user_id, str(message.get("text") or ""),
                                  buttons=message.get("buttons") or None)
            except Exception as exc:  # WindowClosed (Zalo's 48 hours), any channel error
                log.warning("outcome of update request %s not delivered on %s (%s): "
                            "sent by SMS", request.id, channel, type(exc).__name__)
            else:
                await asyncio.to_thread(self.backend.update_requests.record_notification,
                                        request.id, channel)
                return channel
        await asyncio.to_thread(self.backend.update_requests.notify_by_sms, request.id,
                                decision.unblocked)
        return "sms"

    # ---------------------------------------------------------------- retention
    def purge_media(self, before: datetime | None = None) -> tuple[int, int]:
        """Delete the photos of requests decided more than `media.retention_days` ago, and
        photos no request refers to that are that old (a form left half-way). Returns
        (requests, files deleted)."""
        cutoff = before or (self.backend.now() - retention())
        requests = files = 0
        for request_id, refs in self.backend.update_requests.media_to_purge(cutoff):
            for ref in refs:
                files += int(self.media.delete(ref))
            self.backend.update_requests.mark_media_purged(request_id)
            requests += 1
        files += self.media.delete_unreferenced(self.backend.update_requests.media_in_use(),
                                                cutoff)
        return requests, files
