"""Information-update requests (Decree 49): submitted by a customer, reviewed by the back
office within 48 hours; approval applies the fields and photos."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from bot.backend import reference, sms
from bot.backend.context import BackendContext
from bot.backend.models import Subscriber, UpdateRequest
from bot.backend.subscribers import subscriber_view
from bot.backend.views import ReviewDecision, ReviewDetail, UpdateRequestView
from bot.brand import operator


def review_time() -> timedelta:
    """An update request is decided within this time (bot/operator.yml `approval_hours`)."""
    return timedelta(hours=int(operator()["approval_hours"]))
# Fields an approved update request may change, and photo keys -> subscriber flags.
_UPDATABLE_FIELDS = ("full_name", "birth_date", "gender", "nationality", "province", "district",
                     "ward", "street", "occupation_code", "id_type", "id_number",
                     "id_issue_date", "id_issue_place")
_PHOTO_FLAGS = {"id_front": "has_id_front_photo", "id_back": "has_id_back_photo",
                "portrait": "has_portrait_photo"}




def reject_reasons() -> tuple[str, ...]:
    """The reasons a reviewer may give (bot/operator.yml `review.reject_reasons`)."""
    return tuple(str(r) for r in operator()["review"]["reject_reasons"])


def retention() -> timedelta:
    """Photos are deleted this long after the decision (operator.yml media.retention_days)."""
    return timedelta(days=int(operator()["media"]["retention_days"]))


class ReviewConflict(RuntimeError):
    """The request was decided (or changed) since the reviewer opened it: `current` is how
    it is now."""

    def __init__(self, current: UpdateRequestView) -> None:
        super().__init__(f"update request {current.id} is {current.status} "
                         f"(version {current.version})")
        self.current = current


def _view(r: UpdateRequest) -> UpdateRequestView:
    return UpdateRequestView(r.id, r.status, r.due_at, r.submitted_at, r.channel, r.decided_at,
                             r.version or 0, r.reject_reason, r.reject_note, r.decided_by,
                             r.notified_via, r.conversation_id)


def _photo_map(photos: Any) -> dict[str, str]:
    if isinstance(photos, Mapping):
        return {str(k): str(v) for k, v in photos.items() if v}
    return {}


class UpdateRequests:
    def __init__(self, ctx: BackendContext) -> None:
        self.ctx = ctx

    def submit(self, msisdn: str, fields: Mapping[str, Any],
               photos: Mapping[str, Any] | Iterable[Any] | None,
               channel: str, conversation_id: str | None = None) -> UpdateRequestView | None:
        """Record an information-update request, due after review_time(). None if unknown."""
        now = self.ctx.now()
        photo_refs = dict(photos) if isinstance(photos, Mapping) else list(photos or ())
        with self.ctx.session() as s, s.begin():
            sub = self.ctx.subscriber_row(s, msisdn, lock=True)
            if sub is None:
                return None
            req = UpdateRequest(subscriber_id=sub.id, fields=_jsonable(fields),
                                photos=_jsonable(photo_refs), channel=channel, status="pending",
                                submitted_at=now, due_at=now + review_time(),
                                conversation_id=conversation_id, version=0)
            s.add(req)
            s.flush()
            return _view(req)

    def latest(self, msisdn: str) -> UpdateRequestView | None:
        with self.ctx.session() as s:
            sub = self.ctx.subscriber_row(s, msisdn)
            if sub is None:
                return None
            req = s.execute(select(UpdateRequest).where(UpdateRequest.subscriber_id == sub.id)
                            .order_by(UpdateRequest.submitted_at.desc(), UpdateRequest.id.desc())
                            .limit(1)).scalar_one_or_none()
            return _view(req) if req else None

    def review(self, request_id: int, approve: bool) -> UpdateRequestView | None:
        """Decide without the desk (tests, scripts): no version check, the outcome by SMS.
        None for an unknown id; a decided request is returned unchanged."""
        current = self.get(request_id)
        if current is None:
            return None
        if current.status != "pending":
            return current
        decision = self.decide(request_id, approve=approve, reviewer="back-office",
                               version=current.version,
                               reason=None if approve else "other")
        self.notify_by_sms(request_id)
        return self.get(request_id) or decision.request

    # ------------------------------------------------------------ the review desk
    def get(self, request_id: int) -> UpdateRequestView | None:
        with self.ctx.session() as s:
            req = s.get(UpdateRequest, request_id)
            return _view(req) if req else None

    def pending(self, limit: int = 500) -> list[UpdateRequestView]:
        """The review queue: overdue requests first, then the rest, oldest first."""
        now = self.ctx.now()
        with self.ctx.session() as s:
            rows = s.execute(select(UpdateRequest).where(UpdateRequest.status == "pending")
                             .order_by(UpdateRequest.submitted_at, UpdateRequest.id)
                             .limit(limit)).scalars().all()
            views = [_view(r) for r in rows]
        return sorted(views, key=lambda v: (v.due_at > now, v.submitted_at, v.id))

    def detail(self, request_id: int) -> ReviewDetail | None:
        """The request with the subscriber's registered data masked and earlier requests."""
        with self.ctx.session() as s:
            req = s.get(UpdateRequest, request_id)
            if req is None:
                return None
            sub = s.get(Subscriber, req.subscriber_id)
            earlier = s.execute(select(UpdateRequest)
                                .where(UpdateRequest.subscriber_id == req.subscriber_id,
                                       UpdateRequest.id != req.id)
                                .order_by(UpdateRequest.submitted_at.desc(),
                                          UpdateRequest.id.desc()).limit(20)).scalars()
            return ReviewDetail(
                request=_view(req), subscriber_id=sub.id, msisdn=sub.msisdn,
                fields={str(k): str(v) for k, v in (req.fields or {}).items()
                        if v not in (None, "")},
                photos=_photo_map(req.photos),
                current=reference.masked_profile(subscriber_view(sub)),
                history=tuple(_view(r) for r in earlier))

    def decide(self, request_id: int, *, approve: bool, reviewer: str, version: int,
               reason: str | None = None, note: str | None = None) -> ReviewDecision:
        """The back office's decision, in one transaction: the request changes from pending
        only if it still has `version` (ReviewConflict otherwise: another reviewer was
        first); an approval writes the submitted fields and photo flags into the
        subscriber's registered data and lifts a one-way block once Decree 49 is complete.
        A rejection needs a reason of `reject_reasons()`. KeyError for an unknown id."""
        if not approve and reason not in reject_reasons():
            raise ValueError("a rejection needs one of the reasons " + ", ".join(
                reject_reasons()))
        note = " ".join((note or "").split())[:int(operator()["review"]["note_max_chars"])]
        now = self.ctx.now()
        with self.ctx.session() as s, s.begin():
            changed = s.execute(
                update(UpdateRequest)
                .where(UpdateRequest.id == request_id, UpdateRequest.status == "pending",
                       UpdateRequest.version == version)
                .values(status="approved" if approve else "rejected", decided_at=now,
                        decided_by=reviewer[:80], version=version + 1,
                        reject_reason=None if approve else reason,
                        reject_note=(note or None) if not approve else None)
                .execution_options(synchronize_session=False)).rowcount
            req = s.get(UpdateRequest, request_id)
            if req is None:
                raise KeyError(request_id)
            if changed != 1:
                raise ReviewConflict(_view(req))
            sub = s.get(Subscriber, req.subscriber_id)
            before = reference.decree49(subscriber_view(sub))
            unblocked = False
            if approve:
                try:
                    _apply_update(sub, req.fields or {}, req.photos or {})
                except ValueError as exc:  # ids only: the bad value stays out of the message
                    raise ValueError(f"update request {req.id}: {exc}") from None
                s.flush()
                after = reference.decree49(subscriber_view(sub))
                if sub.status == "one_way_blocked" and after.complete:
                    sub.status, unblocked = "active", True
            else:
                after = before
            return ReviewDecision(
                _view(req), sub.msisdn,
                completed=tuple(c for c in before.missing if c not in after.missing),
                unblocked=unblocked, complete=after.complete)

    def record_notification(self, request_id: int, via: str) -> None:
        """The customer was told the outcome on `via` (telegram | zalo | sms)."""
        with self.ctx.session() as s, s.begin():
            req = s.get(UpdateRequest, request_id)
            if req is not None:
                req.notified_via, req.notified_at = via[:12], self.ctx.now()

    def notify_by_sms(self, request_id: int, unblocked: bool = False) -> bool:
        """Queue the outcome as an SMS to the subscriber (the chat could not be reached)."""
        with self.ctx.session() as s, s.begin():
            req = s.get(UpdateRequest, request_id)
            if req is None or req.status == "pending":
                return False
            sub = s.get(Subscriber, req.subscriber_id)
            if req.status == "approved":
                change = ("update_change_unblocked" if unblocked else
                          "update_change_complete"
                          if reference.decree49(subscriber_view(sub)).complete
                          else "update_change_partial")
                text = sms.render("update_approved_detail", request_id=req.id,
                                  changes=sms.render(change))
            else:
                text = sms.render("update_rejected_detail", request_id=req.id,
                                  reason=sms.render(f"update_reason_{req.reject_reason}",
                                                    note=req.reject_note or "-"),
                                  hotline=operator()["hotline"])
            sms.queue(s, sub.msisdn, text, self.ctx.now())
            req.notified_via, req.notified_at = "sms", self.ctx.now()
            return True

    def media_to_purge(self, before: datetime | None = None) -> list[tuple[int, list[str]]]:
        """(request id, photo references) of requests decided longer than `retention()`
        ago whose photos are still kept."""
        cutoff = before or (self.ctx.now() - retention())
        with self.ctx.session() as s:
            rows = s.execute(select(UpdateRequest).where(
                UpdateRequest.status != "pending", UpdateRequest.decided_at <= cutoff,
                UpdateRequest.media_purged_at.is_(None))
                .order_by(UpdateRequest.id)).scalars()
            return [(r.id, list(_photo_map(r.photos).values())) for r in rows]

    def media_in_use(self) -> set[str]:
        """Photo references of every request whose photos are still kept (pending ones
        included): what a purge of unreferenced files must leave alone."""
        with self.ctx.session() as s:
            rows = s.execute(select(UpdateRequest.photos).where(
                UpdateRequest.media_purged_at.is_(None))).scalars()
            return {ref for photos in rows for ref in _photo_map(photos).values()}

    def mark_media_purged(self, request_id: int) -> None:
        with self.ctx.session() as s, s.begin():
            req = s.get(UpdateRequest, request_id)
            if req is not None:
                req.media_purged_at = self.ctx.now()


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _apply_update(sub: Subscriber, fields: Mapping[str, Any], photos: Any) -> None:
    for name in _UPDATABLE_FIELDS:
        if name not in fields or fields[name] in (None, ""):
            continue
        value = fields[name]
        try:
            if name in ("birth_date", "id_issue_date") and isinstance(value, str):
                value = date.fromisoformat(value)
            if name == "occupation_code":
                value = int(value)
        except (TypeError, ValueError):
            raise ValueError(f"field {name} is not valid") from None
        setattr(sub, name, value)
    if "full_name" in fields or fields.get("name_matches_document"):
        sub.name_mismatch = False
    keys = photos.keys() if isinstance(photos, Mapping) else []
    for key in keys:
        if key in _PHOTO_FLAGS and photos[key]:
            setattr(sub, _PHOTO_FLAGS[key], True)
