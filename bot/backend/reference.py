"""Pure rules of the subscriber backend: Decree-49 completeness, the call-center
update-path decision, masking and the labels of the masked profile. No database access
here. (Reference data shared with the NLU and the actions, the service catalog, places and
occupations, is in bot/reference.)"""

from __future__ import annotations

from bot.backend.views import Decree49Status, SubscriberView, UpdatePath

# Decree-49 information, in the order a customer fills it in; code -> Vietnamese label.
DECREE49_FIELDS: tuple[tuple[str, str], ...] = (
    ("full_name", "họ tên chủ thuê bao"),
    ("name_match", "họ tên khớp giấy tờ"),
    ("birth_date", "ngày sinh"),
    ("gender", "giới tính"),
    ("nationality", "quốc tịch"),
    ("address", "địa chỉ"),
    ("id_document", "số giấy tờ tùy thân"),
    ("id_issue", "ngày cấp và nơi cấp giấy tờ"),
    ("id_front_photo", "ảnh mặt trước giấy tờ"),
    ("id_back_photo", "ảnh mặt sau giấy tờ"),
    ("portrait_photo", "ảnh chân dung"),
)
DECREE49_LABELS = dict(DECREE49_FIELDS)

ID_TYPES = ("CMND", "CCCD", "PASSPORT")
ID_TYPE_LABELS = {"CMND": "CMND", "CCCD": "CCCD", "PASSPORT": "Hộ chiếu"}
STATUS_LABELS = {
    "active": "Đang hoạt động",
    "one_way_blocked": "Bị khóa một chiều",
    "blocked": "Bị khóa hai chiều",
}
SUBSCRIPTION_TYPE_LABELS = {"prepaid": "Trả trước", "postpaid": "Trả sau"}


def _missing_codes(sub: SubscriberView) -> list[str]:
    missing: list[str] = []
    if not sub.full_name.strip():
        missing.append("full_name")
    elif sub.name_mismatch:
        missing.append("name_match")
    if sub.birth_date is None:
        missing.append("birth_date")
    if not sub.gender:
        missing.append("gender")
    if not sub.nationality:
        missing.append("nationality")
    if not all((sub.province, sub.district, sub.ward, sub.street)):
        missing.append("address")
    if sub.id_type not in ID_TYPES or not sub.id_number:
        missing.append("id_document")
    if sub.id_issue_date is None or not sub.id_issue_place:
        missing.append("id_issue")
    if not sub.has_id_front_photo:
        missing.append("id_front_photo")
    # A passport has a single photo page: no back side to photograph.
    if not sub.has_id_back_photo and sub.id_type != "PASSPORT":
        missing.append("id_back_photo")
    if not sub.has_portrait_photo:
        missing.append("portrait_photo")
    return missing


def decree49(sub: SubscriberView) -> Decree49Status:
    """Which Decree-49 items are missing. Occupation is reported apart (not a Decree-49 item)."""
    missing = tuple(_missing_codes(sub))
    return Decree49Status(
        complete=not missing,
        missing=missing,
        missing_labels=tuple(DECREE49_LABELS[c] for c in missing),
        occupation_missing=sub.occupation_code is None,
    )


def update_path(sub: SubscriberView) -> UpdatePath:
    """The call-center decision tree (seed 002, situations 1 and 2)."""
    if decree49(sub).complete:
        return UpdatePath.COMPLETE
    if sub.is_premium_number and sub.premium_commitment:
        return UpdatePath.STORE_PREMIUM
    if sub.company_tax_code:
        return UpdatePath.STORE_COMPANY
    if sub.device == "feature_phone":
        return UpdatePath.STORE_FEATURE_PHONE
    return UpdatePath.ONLINE_APP


def mask_name(full_name: str) -> str:
    """'Nguyễn Văn An' -> 'N** V** An': initials of family/middle names, given name kept."""
    parts = full_name.split()
    if not parts:
        return ""
    return " ".join([p[0] + "**" for p in parts[:-1]] + [parts[-1]])


def mask_id_number(number: str | None) -> str:
    """All but the last 3 characters replaced by '*' ('*********123')."""
    if not number:
        return ""
    if len(number) <= 3:
        return "*" * len(number)
    return "*" * (len(number) - 3) + number[-3:]


def masked_profile(sub: SubscriberView) -> dict[str, str]:
    """Vietnamese labels -> values safe to show once ownership is proven."""
    status = decree49(sub)
    yes_no = {True: "Đã có", False: "Chưa có"}
    return {
        "Số thuê bao": sub.msisdn,
        "Chủ thuê bao": mask_name(sub.full_name),
        "Năm sinh": str(sub.birth_date.year) if sub.birth_date else "Chưa có",
        "Loại giấy tờ": ID_TYPE_LABELS.get(sub.id_type or "", "Chưa có"),
        "Số giấy tờ": mask_id_number(sub.id_number) or "Chưa có",
        "Địa chỉ (tỉnh/thành phố)": sub.province or "Chưa có",
        "Loại thuê bao": SUBSCRIPTION_TYPE_LABELS.get(sub.subscription_type,
                                                      sub.subscription_type),
        "Trạng thái": STATUS_LABELS.get(sub.status, sub.status),
        "Ảnh mặt trước giấy tờ": yes_no[sub.has_id_front_photo],
        "Ảnh mặt sau giấy tờ": ("Không cần (hộ chiếu)" if sub.id_type == "PASSPORT"
                                else yes_no[sub.has_id_back_photo]),
        "Ảnh chân dung": yes_no[sub.has_portrait_photo],
        "Nghề nghiệp": "Đã cập nhật" if sub.occupation_code else "Chưa cập nhật",
        "Thông tin theo Nghị định 49": (
            "Đầy đủ" if status.complete else "Còn thiếu: " + ", ".join(status.missing_labels)
        ),
    }


def format_vnd(amount: int) -> str:
    """125000 -> '125.000 đ' (Vietnamese thousands separator)."""
    sign = "-" if amount < 0 else ""
    return f"{sign}{abs(int(amount)):,} đ".replace(",", ".")
