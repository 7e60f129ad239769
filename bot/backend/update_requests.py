"""Information-update requests (Decree 49): submitted by a customer, reviewed by the back
office within 48 hours; approval applies the fields and photos."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from bot.backend import reference, sms
from bot.backend.context import BackendContext
from bot.backend.models import Subscriber, UpdateRequest
from bot.backend.subscribers import subscriber_view
from bot.backend.views import UpdateRequestView
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


def _view(r: UpdateRequest) -> UpdateRequestView:
    return UpdateRequestView(r.id, r.status, r.due_at, r.submitted_at, r.channel, r.decided_at)


class UpdateRequests:
    def __init__(self, ctx: BackendContext) -> None:
        self.ctx = ctx

    def submit(self, msisdn: str, fields: Mapping[str, Any],
               photos: Mapping[str, Any] | Iterable[Any] | None,
               channel: str) -> UpdateRequestView | None:
        """Record an information-update request, due after review_time(). None if unknown."""
        now = self.ctx.now()
        photo_refs = dict(photos) if isinstance(photos, Mapping) else list(photos or ())
        with self.ctx.session() as s, s.begin():
            sub = self.ctx.subscriber_row(s, msisdn, lock=True)
            if sub is None:
                return None
            req = UpdateRequest(subscriber_id=sub.id, fields=_jsonable(fields),
                                photos=_jsonable(photo_refs), channel=channel, status="pending",
                                submitted_at=now, due_at=now + review_time())
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
        """Back-office decision. Approval applies the submitted fields and photo flags and
        lifts a one-way block once the Decree-49 information is complete."""
        now = self.ctx.now()
        with self.ctx.session() as s, s.begin():
            req = s.get(UpdateRequest, request_id)
            if req is None:
                return None
            if req.status != "pending":
                return _view(req)
            req.status, req.decided_at = ("approved" if approve else "rejected"), now
            sub = s.get(Subscriber, req.subscriber_id)
            if approve:
                try:
                    _apply_update(sub, req.fields or {}, req.photos or {})
                except ValueError as exc:  # ids only: the bad value stays out of the message
                    raise ValueError(f"update request {req.id}: {exc}") from None
                if sub.status == "one_way_blocked" and \
                        reference.decree49(subscriber_view(sub)).complete:
                    sub.status = "active"
                template = "update_approved"
            else:
                template = "update_rejected"
            sms.queue(s, sub.msisdn, sms.render(template), self.ctx.now())
            return _view(req)


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
