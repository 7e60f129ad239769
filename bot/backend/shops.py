"""The operator's shops (cửa hàng, trung tâm giao dịch): find them by what the customer
typed as a place."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.backend.context import BackendContext
from bot.backend.models import Shop
from bot.backend.views import ShopView
from bot.reference.places import PlaceIndex


class Shops:
    def __init__(self, ctx: BackendContext) -> None:
        self.ctx = ctx

    @staticmethod
    def _place_index(s: Session) -> PlaceIndex:
        pairs = s.execute(select(Shop.province_key, Shop.district_key).distinct()).all()
        return PlaceIndex(frozenset(p for p, _ in pairs), frozenset((p, d) for p, d in pairs))

    def find(self, place: str, limit: int = 5, main_only: bool = False) -> list[ShopView]:
        """Shops in the district (else province) the customer typed; main ones first."""
        with self.ctx.session() as s:
            province, districts = self._place_index(s).resolve(place or "")
            base = select(Shop)
            if main_only:
                base = base.where(Shop.is_main.is_(True))
            order = (Shop.is_main.desc(), Shop.id)
            rows: list[Shop] = []
            if districts:
                conds = [(Shop.province_key == p) & (Shop.district_key == d)
                         for p, d in districts]
                cond = conds[0]
                for extra in conds[1:]:
                    cond = cond | extra
                rows = list(s.execute(base.where(cond).order_by(*order).limit(limit)).scalars())
            if not rows and province is None and districts:
                province = sorted(districts)[0][0]
            if not rows and province:
                rows = list(s.execute(base.where(Shop.province_key == province)
                                      .order_by(*order).limit(limit)).scalars())
            return [ShopView(r.id, r.name, r.province, r.district, r.address, r.opening_hours,
                              r.is_main) for r in rows]
