"""Regenerate the PhoATIS-style joint intent/slot sample (Vietnamese restaurant booking).

Layout written next to this file: ``{train,dev,test}/{seq.in,seq.out,label}``, line aligned.
``seq.in`` holds lower-case, space-separated tokens (syllables; multi-syllable proper
names joined by ``_`` as in the word-segmented PhoATIS release), ``seq.out`` one BIO tag
per token, ``label`` one intent per line. Deterministic: ``python make_sample.py``.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 49
SPLIT_SIZES = {"train": 30, "dev": 6, "test": 8}  # per intent; 5 intents -> 150/30/40

FILLERS: dict[str, list[str]] = {
    "restaurant_name": [
        "hoa_sen",
        "phở thìn",
        "quán ngon",
        "bún_chả hương_liên",
        "lẩu phan",
        "sen tây_hồ",
        "gogi house",
        "cơm niêu sài_gòn",
        "nhà_hàng ngọc mai",
        "bếp mẹ ỉn",
        "madame lân",
        "pizza 4ps",
    ],
    "cuisine": [
        "lẩu",
        "nướng",
        "hải_sản",
        "chay",
        "đồ nhật",
        "món hàn",
        "món ý",
        "phở",
        "bún_chả",
        "lẩu thái",
        "dimsum",
        "bò tơ",
    ],
    "location": [
        "hà_nội",
        "đà_nẵng",
        "quận 1",
        "ba_đình",
        "hoàn_kiếm",
        "cầu_giấy",
        "hội_an",
        "nha_trang",
        "quận 7",
        "thủ_đức",
        "tây_hồ",
        "sài_gòn",
        "hải_phòng",
    ],
    "date": [
        "hôm_nay",
        "ngày_mai",
        "thứ bảy này",
        "chủ_nhật tuần sau",
        "ngày 20 tháng 12",
        "tối nay",
        "cuối tuần này",
        "mùng 2 tết",
        "thứ sáu",
    ],
    "time": [
        "7 giờ tối",
        "12 giờ trưa",
        "19 giờ 30",
        "6 rưỡi chiều",
        "11 giờ",
        "8 giờ sáng",
        "18 giờ",
        "9 giờ tối",
    ],
    "party_size": [
        "2 người",
        "4 người",
        "hai người",
        "mười người",
        "6 người",
        "15 người",
        "3 người lớn",
        "ba người",
        "20 khách",
    ],
}

TEMPLATES: dict[str, list[str]] = {
    "book_table": [
        "đặt bàn {party_size} tại {restaurant_name} {date} lúc {time}",
        "tôi muốn đặt bàn cho {party_size} ở {restaurant_name} vào {time} {date}",
        "cho mình đặt chỗ {party_size} {date} ở nhà_hàng {cuisine} tại {location}",
        "đặt giúp tôi một bàn {party_size} lúc {time}",
        "giữ bàn {party_size} ở {restaurant_name} {date} nhé",
        "book bàn {cuisine} {party_size} {time} {date}",
        "em ơi còn bàn {party_size} ở {restaurant_name} {date} không đặt cho anh",
    ],
    "find_restaurant": [
        "tìm nhà_hàng {cuisine} ở {location}",
        "có quán {cuisine} nào ngon ở {location} không",
        "gợi_ý cho tôi nhà_hàng {cuisine} gần {location}",
        "quán {cuisine} nào còn mở lúc {time} ở {location}",
        "tôi muốn ăn {cuisine} ở {location} {date}",
        "ở {location} có nhà_hàng nào phù_hợp cho {party_size} không",
        "chỉ mình mấy quán {cuisine} ở {location} với",
    ],
    "opening_hours": [
        "{restaurant_name} mấy giờ mở cửa",
        "{restaurant_name} ở {location} mở cửa đến mấy giờ",
        "{date} {restaurant_name} có mở cửa không",
        "giờ mở cửa của {restaurant_name}",
        "{restaurant_name} có phục_vụ lúc {time} không",
        "{date} quán {restaurant_name} ở {location} mấy giờ đóng cửa",
    ],
    "cancel_booking": [
        "hủy bàn đã đặt ở {restaurant_name} {date}",
        "tôi muốn hủy đặt chỗ {party_size} lúc {time}",
        "hủy giúp mình bàn {date} ở {restaurant_name}",
        "cho tôi hủy lịch đặt bàn {date} lúc {time}",
        "bàn {party_size} ở {restaurant_name} {date} hủy giúp tôi",
        "thôi không đi nữa hủy bàn {time} {date} nhé",
    ],
    "price": [
        "ăn {cuisine} ở {restaurant_name} hết bao_nhiêu tiền một người",
        "giá_cả ở {restaurant_name} thế_nào",
        "nhà_hàng {cuisine} ở {location} giá khoảng bao_nhiêu",
        "{party_size} ăn ở {restaurant_name} khoảng bao_nhiêu tiền",
        "bảng giá của {restaurant_name} ở {location}",
        "buffet {cuisine} ở {location} bao_nhiêu một suất",
    ],
}

SLOT = re.compile(r"\{(\w+)\}")


def realise(template: str, rng: random.Random) -> tuple[list[str], list[str]]:
    tokens: list[str] = []
    tags: list[str] = []
    for part in template.split():
        match = SLOT.fullmatch(part)
        if match is None:
            tokens.append(part)
            tags.append("O")
            continue
        slot = match.group(1)
        words = rng.choice(FILLERS[slot]).split()
        tokens.extend(words)
        tags.extend([f"B-{slot}"] + [f"I-{slot}"] * (len(words) - 1))
    return tokens, tags


def build() -> dict[str, list[tuple[str, str, str]]]:
    rng = random.Random(SEED)
    per_intent_total = sum(SPLIT_SIZES.values())
    splits: dict[str, list[tuple[str, str, str]]] = {name: [] for name in SPLIT_SIZES}
    seen: set[str] = set()
    for intent, templates in TEMPLATES.items():
        rows: list[tuple[str, str, str]] = []
        while len(rows) < per_intent_total:
            tokens, tags = realise(rng.choice(templates), rng)
            text = " ".join(tokens)
            if text in seen:
                continue
            seen.add(text)
            rows.append((text, " ".join(tags), intent))
        start = 0
        for name, size in SPLIT_SIZES.items():
            splits[name].extend(rows[start : start + size])
            start += size
    for rows in splits.values():
        rng.shuffle(rows)
    return splits


def write(splits: dict[str, list[tuple[str, str, str]]]) -> None:
    for name, rows in splits.items():
        folder = HERE / name
        folder.mkdir(exist_ok=True)
        for index, filename in enumerate(("seq.in", "seq.out", "label")):
            lines = [row[index] for row in rows]
            (folder / filename).write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    write(build())
