"""The service catalog: the value-added services, their codes, names, prices and the ways
customers call them (aliases). Read by the NLU (service entity), the backend (seed, lookup
by alias); the prices a customer is told come from the database, seeded from here."""

from __future__ import annotations

from dataclasses import dataclass

from bot.text import fold


@dataclass(frozen=True)
class ServiceView:
    """A value-added service: a catalog entry here, and the backend's view of a service
    row (bot.backend.views uses this class)."""

    code: str
    name: str
    price_label: str
    price_vnd: int
    period_days: int
    aliases: tuple[str, ...] = ()


# The 8 demo services (docs intents.md). Aliases: lower-case, with diacritics; matched folded.
CATALOG: tuple[ServiceView, ...] = (
    ServiceView("FUNRING", "Nhạc chờ FunRing", "9.000 đ / 30 ngày", 9000, 30,
                ("nhạc chờ", "funring", "fun ring", "nhạc chuông chờ")),
    ServiceView("MCA", "Thông báo cuộc gọi nhỡ", "2.000 đ / 7 ngày", 2000, 7,
                ("mca", "báo cuộc gọi nhỡ", "thông báo cuộc gọi nhỡ", "cuộc gọi nhỡ")),
    ServiceView("MOBITV", "Truyền hình MobiTV", "50.000 đ / 30 ngày", 50000, 30,
                ("mobitv", "mobi tv", "xem tivi", "truyền hình")),
    ServiceView("MCLOUD", "Lưu trữ đám mây mCloud", "15.000 đ / 30 ngày", 15000, 30,
                ("mcloud", "m cloud", "lưu trữ", "đám mây", "lưu trữ đám mây")),
    ServiceView("KHOGAME", "Kho game", "3.000 đ / ngày", 3000, 1,
                ("kho game", "khogame", "chơi game", "game")),
    ServiceView("TIN24H", "Tin tức 24h", "1.000 đ / ngày", 1000, 1,
                ("tin24h", "tin 24h", "tin tức", "đọc báo", "tin tức 24h")),
    ServiceView("D5", "Gói data D5: 1 GB / ngày", "5.000 đ / ngày", 5000, 1,
                ("d5", "gói d5", "data ngày", "gói 5k")),
    ServiceView("C90N", "Gói C90N: 4 GB / ngày + gọi nội mạng miễn phí", "90.000 đ / 30 ngày",
                90000, 30, ("c90n", "gói c90n", "gói 90k", "gói c90", "c90")),
)


def find_service(text: str) -> ServiceView | None:
    """A catalog service from its code or one of its aliases, typed in any style."""
    key = fold(text).replace(" ", "")
    if not key:
        return None
    for svc in CATALOG:
        if key == svc.code.lower():
            return svc
    for svc in CATALOG:
        if any(key == fold(alias).replace(" ", "") for alias in svc.aliases):
            return svc
    return None
