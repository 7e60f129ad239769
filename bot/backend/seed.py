"""Deterministic demo seed: the 15 demo numbers of docs/demo-numbers.md plus ~185 generated
subscribers, the service catalog, top-ups and shops.

Idempotent: every run wipes the backend tables and writes the same rows (fixed ids, seeded
random); times are relative to the backend clock at seed time ("13 hours ago" = now - 13 h).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, text

from bot.backend.models import (
    AppConsultation,
    AuditLog,
    IdentityVerification,
    OtpChallenge,
    OtpWrongCode,
    PendingRegistration,
    Service,
    ServiceBarring,
    Shop,
    SmsOutbox,
    Subscriber,
    Subscription,
    Topup,
    UpdateRequest,
)
from bot.backend.seed_data import (
    FAMILY_NAMES,
    FEMALE_GIVEN,
    FEMALE_MIDDLE,
    MALE_GIVEN,
    MALE_MIDDLE,
    PLACES,
    PROVINCE_WEIGHTS,
    SHOPS,
)
from bot.backend.update_requests import review_time
from bot.backend.vas import registration_ttl
from bot.brand import operator
from bot.reference.catalog import CATALOG
from bot.text import fold

if TYPE_CHECKING:
    from bot.backend import Backend

SEED = 20170424  # Decree 49 took effect on 24/4/2017
GENERATED_COUNT = 185
DEMO_PREFIX = "09010000"

# Child tables first.
_TABLES: tuple[type[Any], ...] = (
    AuditLog, IdentityVerification, SmsOutbox, OtpWrongCode, OtpChallenge, AppConsultation,
    UpdateRequest, Topup, PendingRegistration, Subscription, ServiceBarring, Subscriber, Shop,
    Service)
TOPUP_CHANNELS = ("thẻ cào", "ứng dụng", "ngân hàng", "ví điện tử", "cửa hàng")
TOPUP_AMOUNTS = (10000, 20000, 30000, 50000, 100000, 200000, 500000)
CCCD_ISSUER = "Cục Cảnh sát quản lý hành chính về trật tự xã hội"
PASSPORT_ISSUER = "Cục Quản lý xuất nhập cảnh"
FOREIGN = (
    ("Hàn Quốc", (("Kim Min Jun", "male"), ("Park Ji Yeon", "female"), ("Lee Seung Ho", "male"))),
    ("Nhật Bản", (("Tanaka Hiroshi", "male"), ("Sato Yuki", "female"), ("Suzuki Kenji", "male"))),
    ("Pháp", (("Pierre Martin", "male"), ("Claire Dubois", "female"))),
)
FOREIGN_ISSUERS = {"Hàn Quốc": "Bộ Ngoại giao Hàn Quốc", "Nhật Bản": "Bộ Ngoại giao Nhật Bản",
                   "Pháp": "Bộ Nội vụ Pháp"}


@dataclass(frozen=True)
class SeedReport:
    subscribers: int
    services: int
    shops: int
    subscriptions: int
    topups: int
    seconds: float


class _Rows:
    """Rows to bulk insert, with fixed ids."""

    def __init__(self) -> None:
        self.tables: dict[type, list[dict[str, Any]]] = {m: [] for m in _TABLES}

    def add(self, model: type, **values: Any) -> int:
        rows = self.tables[model]
        values.setdefault("id", len(rows) + 1)
        rows.append(values)
        return values["id"]


class _Generator:
    def __init__(self, now: datetime) -> None:
        self.now = now
        self.rng = random.Random(SEED)
        self.rows = _Rows()

    # -------------------------------------------------------------- people
    def person(self, gender: str | None = None) -> dict[str, Any]:
        rng = self.rng
        gender = gender or rng.choice(("male", "female"))
        family = rng.choices([f for f, _ in FAMILY_NAMES], [w for _, w in FAMILY_NAMES])[0]
        middles = MALE_MIDDLE if gender == "male" else FEMALE_MIDDLE
        given = rng.choice(MALE_GIVEN if gender == "male" else FEMALE_GIVEN)
        if rng.random() < 0.25:  # four-part names: "Trần Thị Thu Hà", "Nguyễn Văn Minh Tuấn"
            first = "Văn" if gender == "male" else "Thị"
            middle = f"{first} {rng.choice([m for m in middles if m != first])}"
        else:
            middle = rng.choice(middles)
        birth = date(rng.randint(1955, 2006), rng.randint(1, 12), rng.randint(1, 28))
        return {"full_name": f"{family} {middle} {given}", "gender": gender, "birth_date": birth}

    def foreigner(self) -> dict[str, Any]:
        rng = self.rng
        nationality, names = rng.choice(FOREIGN)
        full_name, gender = rng.choice(names)
        birth = date(rng.randint(1960, 2000), rng.randint(1, 12), rng.randint(1, 28))
        return {"full_name": full_name, "gender": gender, "birth_date": birth,
                "nationality": nationality}

    def address(self, province: str | None = None) -> dict[str, Any]:
        rng = self.rng
        if province is None:
            names = list(PLACES)
            weights = [PROVINCE_WEIGHTS.get(n, 2) for n in names]
            province = rng.choices(names, weights)[0]
        district, wards, streets = rng.choice(PLACES[province][1])
        return {"province": province, "district": district, "ward": rng.choice(wards),
                "street": f"{rng.randint(1, 399)} {rng.choice(streets)}"}

    def document(self, person: dict[str, Any], province: str, kind: str) -> dict[str, Any]:
        rng = self.rng
        birth: date = person["birth_date"]
        if kind == "CMND" and birth.year + 14 > 2015:  # CMND cards stopped in 2016
            kind = "CCCD"
        if kind == "CCCD":
            century = 0 if birth.year < 2000 else 2
            gender_digit = century + (1 if person["gender"] == "female" else 0)
            number = (f"{PLACES[province][0]}{gender_digit}{birth.year % 100:02d}"
                      f"{rng.randint(0, 999999):06d}")
            issued = date(rng.randint(max(2016, birth.year + 14), 2024), rng.randint(1, 12),
                          rng.randint(1, 28))
            place = CCCD_ISSUER
        elif kind == "CMND":
            number = f"{rng.choice('0123')}{rng.randint(0, 99999999):08d}"
            issued = date(rng.randint(max(2003, birth.year + 14), 2015), rng.randint(1, 12),
                          rng.randint(1, 28))
            place = f"Công an {province}"
        else:
            number = f"{rng.choice('BCMN')}{rng.randint(0, 9999999):07d}"
            issued = date(rng.randint(2015, 2024), rng.randint(1, 12), rng.randint(1, 28))
            place = FOREIGN_ISSUERS.get(person.get("nationality", ""), PASSPORT_ISSUER)
        return {"id_type": kind, "id_number": number, "id_issue_date": issued,
                "id_issue_place": place}

    def subscriber(self, msisdn: str, *, gender: str | None = None, province: str | None = None,
                   doc: str = "CCCD", **overrides: Any) -> int:
        person = {"nationality": "Việt Nam", **(self.foreigner() if doc == "PASSPORT"
                                                 else self.person(gender))}
        addr = self.address(province)
        values: dict[str, Any] = {
            "msisdn": msisdn, "subscription_type": "prepaid", "status": "active",
            **person, **addr,
            "occupation_code": self.rng.randint(1, 18),
            **self.document(person, addr["province"], doc),
            "has_id_front_photo": True, "has_id_back_photo": doc != "PASSPORT",
            "has_portrait_photo": True, "name_mismatch": False, "is_premium_number": False,
            "premium_commitment": False, "company_tax_code": None, "device": "smartphone",
            "app_installed_at": None, "balance_vnd": self.rng.randrange(0, 300000, 500),
            "created_at": self.now - timedelta(days=self.rng.randint(200, 4000)),
        }
        values.update(overrides)
        return self.rows.add(Subscriber, **values)

    def ago(self, **delta: float) -> datetime:
        return self.now - timedelta(**delta)

    # -------------------------------------------------------------- activity
    def subscribe(self, sub_id: int, code: str, days_ago: float, channel: str = "sms") -> None:
        self.rows.add(Subscription, subscriber_id=sub_id, service_code=code, status="active",
                      channel=channel, started_at=self.ago(days=days_ago), cancelled_at=None)

    def topups(self, sub_id: int, count: int) -> None:
        for _ in range(count):
            at = self.ago(days=self.rng.randint(0, 89), hours=self.rng.randint(0, 23),
                          minutes=self.rng.randint(0, 59))
            self.rows.add(Topup, subscriber_id=sub_id, at=at,
                          amount_vnd=self.rng.choice(TOPUP_AMOUNTS),
                          channel=self.rng.choice(TOPUP_CHANNELS))

    def pending(self, sub_id: int, code: str, hours_ago: float, channel: str = "sms") -> None:
        requested = self.ago(hours=hours_ago)
        self.rows.add(PendingRegistration, subscriber_id=sub_id, service_code=code,
                      channel=channel, requested_at=requested,
                      expires_at=requested + registration_ttl(), status="pending")

    def update_request(self, sub_id: int, hours_ago: float, status: str,
                       fields: dict[str, Any], photos: dict[str, Any]) -> None:
        submitted = self.ago(hours=hours_ago)
        decided = submitted + timedelta(hours=20) if status != "pending" else None
        self.rows.add(UpdateRequest, subscriber_id=sub_id, fields=fields, photos=photos,
                      channel="app", status=status, submitted_at=submitted,
                      due_at=submitted + review_time(), decided_at=decided)


# ------------------------------------------------------------------ demo numbers
def _demo(g: _Generator) -> None:
    """The 15 fixed demo numbers (docs/demo-numbers.md): their situation must hold."""
    n = [f"{DEMO_PREFIX}{i:02d}" for i in range(16)]  # n[1] == "0901000001"
    installed = g.ago(days=120)
    s1 = g.subscriber(n[1], gender="male", province="Hà Nội", full_name="Nguyễn Văn An",
                      occupation_code=4,
                      app_installed_at=installed, balance_vnd=125000,
                      district="Cầu Giấy", ward="Dịch Vọng", street="25 Xuân Thủy")
    g.subscribe(s1, "FUNRING", 40)
    g.subscribe(s1, "MCA", 3)
    g.topups(s1, 4)
    s2 = g.subscriber(n[2], gender="female", province="TP Hồ Chí Minh",
                      full_name="Trần Thị Bích Ngọc", has_portrait_photo=False,
                      district="Quận 3", ward="Võ Thị Sáu", street="140 Võ Văn Tần",
                      balance_vnd=18500)
    g.subscribe(s2, "MOBITV", 12, "web")
    g.subscribe(s2, "KHOGAME", 5, "wap")
    g.topups(s2, 3)
    g.subscriber(n[3], gender="male", province="Đà Nẵng", full_name="Lê Hoàng Nam",
                 has_id_front_photo=False, has_id_back_photo=False, doc="CMND")
    g.subscriber(n[4], gender="male", province="Cần Thơ", full_name="Phạm Minh Tuấn",
                 name_mismatch=True)
    g.subscriber(n[5], gender="male", province="Hà Nội", full_name="Hoàng Đức Thắng",
                 district="Hoàn Kiếm", ward="Hàng Trống", street="12 Lý Thường Kiệt",
                 is_premium_number=True, premium_commitment=True, has_portrait_photo=False,
                 app_installed_at=installed)
    g.subscriber(n[6], gender="female", province="Hải Phòng", full_name="Vũ Thị Thu Hà",
                 company_tax_code="0201234567", has_id_front_photo=False,
                 has_id_back_photo=False, subscription_type="postpaid", balance_vnd=356000)
    g.subscriber(n[7], gender="male", province="Nghệ An", full_name="Đỗ Văn Hùng",
                 device="feature_phone", has_portrait_photo=False, occupation_code=9,
                 doc="CMND")
    s8 = g.subscriber(n[8], gender="female", province="TP Hồ Chí Minh",
                      full_name="Ngô Thị Lan Anh", balance_vnd=45000)
    g.pending(s8, "C90N", 13)
    s9 = g.subscriber(n[9], gender="male", province="Hà Nội", full_name="Bùi Quang Huy",
                      balance_vnd=72000)
    g.pending(s9, "D5", 1)
    s10 = g.subscriber(n[10], gender="female", province="Đà Nẵng",
                       full_name="Phan Thị Mỹ Linh", subscription_type="postpaid",
                       occupation_code=None, balance_vnd=187500, app_installed_at=installed)
    g.subscribe(s10, "TIN24H", 60, "app")
    g.subscriber(n[11], gender="male", province="TP Hồ Chí Minh", full_name="Huỳnh Văn Lộc",
                 status="one_way_blocked", has_portrait_photo=False, has_id_front_photo=False,
                 has_id_back_photo=False, doc="CMND", balance_vnd=9000)
    g.subscriber(n[12], gender="female", province="Cần Thơ",
                       full_name="Lý Ngọc Quỳnh Trang")
    g.rows.add(AppConsultation, msisdn=n[12], channel="sms", at=g.ago(hours=2))
    s13 = g.subscriber(n[13], gender="male", province="Hải Phòng", full_name="Đặng Văn Khoa",
                       has_portrait_photo=False)
    g.update_request(s13, 3, "pending", {"full_name": "Đặng Văn Khoa"},
                     {"portrait": "upload/demo-13-portrait.jpg"})
    s14 = g.subscriber(n[14], gender="female", province="Hà Nội", full_name="Dương Thị Hạnh",
                       district="Đống Đa", ward="Láng Hạ", street="45 Láng Hạ")
    g.update_request(s14, 50, "approved", {"full_name": "Dương Thị Hạnh"},
                     {"portrait": "upload/demo-14-portrait.jpg",
                      "id_front": "upload/demo-14-front.jpg", "id_back": "upload/demo-14-back.jpg"})
    s15 = g.subscriber(n[15], gender="male", province="TP Hồ Chí Minh",
                       full_name="Trịnh Quốc Việt", app_installed_at=installed,
                       balance_vnd=236000)
    g.subscribe(s15, "D5", 2, "app")
    g.subscribe(s15, "TIN24H", 25, "app")
    g.subscribe(s15, "MCLOUD", 70, "web")
    g.topups(s15, 12)


def _barring_demos(g: _Generator) -> None:
    """Demo numbers 16-19: service barrings (docs/demo-numbers.md). Seeded after the
    generated subscribers, so those stay exactly as they were."""
    n = {i: f"{DEMO_PREFIX}{i:02d}" for i in range(16, 20)}
    s16 = g.subscriber(n[16], gender="male", province="Hà Nội", full_name="Trương Văn Bình",
                       subscription_type="postpaid", status="one_way_blocked",
                       balance_vnd=420000, occupation_code=3)
    g.rows.add(ServiceBarring, subscriber_id=s16, scope="outgoing", reason="debt",
               since=g.ago(days=12), debt_vnd=420000, lifted_at=None)
    s17 = g.subscriber(n[17], gender="female", province="TP Hồ Chí Minh",
                       full_name="Nguyễn Thị Thanh Tâm", balance_vnd=150000, occupation_code=8)
    for scope in ("international", "roaming"):
        g.rows.add(ServiceBarring, subscriber_id=s17, scope=scope, reason="not_registered",
                   since=g.ago(days=400), debt_vnd=None, lifted_at=None)
    s18 = g.subscriber(n[18], gender="male", province="Đà Nẵng", full_name="Lê Quang Vinh",
                       status="blocked", balance_vnd=64000, occupation_code=14)
    g.rows.add(ServiceBarring, subscriber_id=s18, scope="two_way", reason="customer_request",
               since=g.ago(days=5), debt_vnd=None, lifted_at=None)
    s19 = g.subscriber(n[19], gender="female", province="Hà Nội", full_name="Phạm Thu Hương",
                       balance_vnd=80000, occupation_code=10)
    g.rows.add(ServiceBarring, subscriber_id=s19, scope="data", reason="customer_request",
               since=g.ago(days=30), debt_vnd=None, lifted_at=None)


# ------------------------------------------------------------------ generated subscribers
# Cases among generated subscribers, with weights: every situation is represented.
_CASES = (("complete", 40), ("no_occupation", 10), ("missing_portrait", 10),
          ("missing_id_photos", 8), ("name_mismatch", 5), ("premium", 5), ("company", 5),
          ("feature_phone", 7), ("one_way_blocked", 5), ("blocked", 2), ("passport", 3))


def _generated(g: _Generator) -> None:
    rng = g.rng
    used = {f"{DEMO_PREFIX}{i:02d}" for i in range(1, 16)}
    numbers: list[str] = []
    while len(numbers) < GENERATED_COUNT:
        number = f"090{rng.randint(2, 9)}{rng.randint(0, 999999):06d}"
        if number not in used:
            used.add(number)
            numbers.append(number)
    cases = [c for c, _ in _CASES]
    weights = [w for _, w in _CASES]
    codes = [s.code for s in CATALOG]
    for index, number in enumerate(numbers):
        # The first rows walk through every case once; the rest are drawn by weight.
        case = cases[index] if index < len(cases) else rng.choices(cases, weights)[0]
        extra: dict[str, Any] = {}
        doc = rng.choices(("CCCD", "CMND"), (4, 1))[0]
        if case == "no_occupation":
            extra["occupation_code"] = None
        elif case == "missing_portrait":
            extra["has_portrait_photo"] = False
        elif case == "missing_id_photos":
            extra.update(has_id_front_photo=False, has_id_back_photo=False)
        elif case == "name_mismatch":
            extra["name_mismatch"] = True
        elif case == "premium":
            extra.update(is_premium_number=True, premium_commitment=rng.random() < 0.8,
                         has_portrait_photo=rng.random() < 0.5)
        elif case == "company":
            extra.update(company_tax_code=f"0{rng.randint(100000000, 999999999)}",
                         subscription_type="postpaid", has_id_back_photo=False)
        elif case == "feature_phone":
            extra.update(device="feature_phone", has_portrait_photo=rng.random() < 0.4)
        elif case == "one_way_blocked":
            extra.update(status="one_way_blocked", has_portrait_photo=False,
                         has_id_front_photo=False, has_id_back_photo=False)
            doc = "CMND"
        elif case == "blocked":
            extra["status"] = "blocked"
        elif case == "passport":
            doc = "PASSPORT"
        if "subscription_type" not in extra and rng.random() < 0.15:
            extra["subscription_type"] = "postpaid"
        if extra.get("device") != "feature_phone" and rng.random() < 0.45:
            extra["app_installed_at"] = g.ago(days=rng.randint(1, 900))
        sub_id = g.subscriber(number, doc=doc, **extra)
        for code in rng.sample(codes, rng.choice((0, 0, 1, 1, 2, 3))):
            g.subscribe(sub_id, code, rng.randint(1, 300), rng.choice(("sms", "app", "web")))
        if extra.get("subscription_type") != "postpaid":
            g.topups(sub_id, rng.randint(0, 8))
        roll = rng.random()
        if roll < 0.04:
            g.pending(sub_id, rng.choice(codes), rng.uniform(0.2, 30))
        elif roll < 0.08 and case in ("missing_portrait", "missing_id_photos"):
            g.update_request(sub_id, rng.uniform(1, 40), "pending", {},
                             {"portrait": f"upload/{sub_id}-portrait.jpg"})
        elif roll < 0.10:
            g.rows.add(AppConsultation, msisdn=number, channel=rng.choice(("sms", "web")),
                       at=g.ago(hours=rng.uniform(1, 72)))


def _catalog_and_shops(g: _Generator) -> None:
    for position, svc in enumerate(CATALOG):
        g.rows.tables[Service].append({
            "code": svc.code, "name": svc.name, "price_label": svc.price_label,
            "price_vnd": svc.price_vnd, "period_days": svc.period_days,
            "aliases": list(svc.aliases), "position": position})
    brand = operator()["name"]
    for suffix, province, district, address, hours, is_main in SHOPS:
        kind = "Trung tâm giao dịch" if is_main else "Cửa hàng"
        g.rows.add(Shop, name=f"{kind} {brand} {suffix}", province=province,
                   district=district, address=f"{address}, {district}, {province}",
                   opening_hours=hours, is_main=is_main, province_key=fold(province),
                   district_key=fold(district))


def build_rows(now: datetime) -> dict[type, list[dict[str, Any]]]:
    """All seed rows for the given 'now' (pure: same input, same rows)."""
    g = _Generator(now)
    _catalog_and_shops(g)
    _demo(g)
    _generated(g)
    _barring_demos(g)
    return g.rows.tables


def seed(backend: Backend) -> SeedReport:
    """Wipe the backend tables and load the demo data in one transaction."""
    started = time.perf_counter()
    tables = build_rows(backend.now())
    with backend.engine.begin() as conn:
        for model in _TABLES:
            conn.execute(delete(model))
        for model in reversed(_TABLES):
            rows = tables[model]
            if rows:
                conn.execute(insert(model), rows)
        if conn.dialect.name == "postgresql":
            for model in _TABLES:
                if model is Service:
                    continue
                name = model.__tablename__
                conn.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                    f"COALESCE((SELECT MAX(id) FROM {name}), 0) + 1, false)"))
    return SeedReport(
        subscribers=len(tables[Subscriber]), services=len(tables[Service]),
        shops=len(tables[Shop]), subscriptions=len(tables[Subscription]),
        topups=len(tables[Topup]), seconds=time.perf_counter() - started)
