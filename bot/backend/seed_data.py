"""Static material for the demo seed: Vietnamese names, places, shops."""

from __future__ import annotations

FAMILY_NAMES = (
    ("Nguyễn", 30), ("Trần", 12), ("Lê", 10), ("Phạm", 7), ("Hoàng", 5), ("Huỳnh", 4),
    ("Phan", 4), ("Vũ", 4), ("Võ", 4), ("Đặng", 3), ("Bùi", 3), ("Đỗ", 3), ("Hồ", 2),
    ("Ngô", 2), ("Dương", 2), ("Lý", 1), ("Trịnh", 1), ("Đinh", 1), ("Lâm", 1), ("Mai", 1),
)
MALE_MIDDLE = ("Văn", "Hữu", "Đức", "Minh", "Quốc", "Thành", "Công", "Xuân", "Ngọc", "Gia",
               "Hoàng", "Tuấn", "Đình", "Quang")
FEMALE_MIDDLE = ("Thị", "Ngọc", "Thu", "Thanh", "Minh", "Kim", "Phương", "Hồng", "Bảo",
                 "Thùy", "Mỹ", "Diệu", "Khánh")
MALE_GIVEN = ("An", "Bình", "Cường", "Dũng", "Hùng", "Hải", "Hoàng", "Khoa", "Long", "Nam",
              "Phong", "Quân", "Sơn", "Tuấn", "Thắng", "Trung", "Việt", "Vinh", "Huy", "Đạt",
              "Khải", "Lộc", "Nghĩa", "Phúc", "Tài", "Thịnh", "Toàn", "Kiên", "Hiếu", "Đức")
FEMALE_GIVEN = ("Anh", "Chi", "Dung", "Hà", "Hạnh", "Hằng", "Hoa", "Hương", "Lan", "Linh",
                "Mai", "My", "Nga", "Ngọc", "Nhung", "Phương", "Quỳnh", "Thảo", "Trang", "Vy",
                "Yến", "Giang", "Huyền", "Loan", "Oanh", "Tâm", "Thủy", "Trâm", "Uyên", "Xuân")

# province -> (CCCD province code, [(district, [wards], [streets])])
PLACES: dict[str, tuple[str, list[tuple[str, list[str], list[str]]]]] = {
    "Hà Nội": ("001", [
        ("Cầu Giấy", ["Dịch Vọng", "Quan Hoa", "Yên Hòa", "Nghĩa Đô"],
         ["Trần Duy Hưng", "Xuân Thủy", "Cầu Giấy", "Nguyễn Khánh Toàn"]),
        ("Hoàn Kiếm", ["Hàng Bạc", "Tràng Tiền", "Hàng Trống", "Cửa Nam"],
         ["Hàng Bài", "Đinh Tiên Hoàng", "Hàng Bạc", "Lý Thường Kiệt"]),
        ("Đống Đa", ["Láng Hạ", "Ô Chợ Dừa", "Văn Miếu", "Trung Liệt"],
         ["Láng Hạ", "Tây Sơn", "Xã Đàn", "Thái Hà"]),
        ("Ba Đình", ["Kim Mã", "Ngọc Hà", "Liễu Giai"], ["Kim Mã", "Đội Cấn", "Liễu Giai"]),
        ("Hai Bà Trưng", ["Bạch Mai", "Lê Đại Hành", "Minh Khai"],
         ["Bạch Mai", "Minh Khai", "Phố Huế"]),
        ("Thanh Xuân", ["Khương Trung", "Nhân Chính"], ["Nguyễn Trãi", "Khuất Duy Tiến"]),
    ]),
    "TP Hồ Chí Minh": ("079", [
        ("Quận 1", ["Bến Nghé", "Bến Thành", "Đa Kao"],
         ["Nguyễn Huệ", "Lê Lợi", "Hai Bà Trưng", "Đinh Tiên Hoàng"]),
        ("Quận 3", ["Võ Thị Sáu", "Phường 9", "Phường 14"],
         ["Nam Kỳ Khởi Nghĩa", "Cách Mạng Tháng Tám", "Võ Văn Tần"]),
        ("Bình Thạnh", ["Phường 25", "Phường 22", "Phường 15"],
         ["Xô Viết Nghệ Tĩnh", "Điện Biên Phủ", "Bạch Đằng"]),
        ("Thủ Đức", ["Linh Trung", "Thảo Điền", "Hiệp Phú"],
         ["Võ Văn Ngân", "Xa lộ Hà Nội", "Lê Văn Việt"]),
        ("Gò Vấp", ["Phường 10", "Phường 5"], ["Quang Trung", "Nguyễn Oanh"]),
        ("Tân Bình", ["Phường 2", "Phường 4"], ["Cộng Hòa", "Hoàng Văn Thụ"]),
        ("Quận 7", ["Tân Phong", "Tân Phú"], ["Nguyễn Thị Thập", "Nguyễn Văn Linh"]),
    ]),
    "Đà Nẵng": ("048", [
        ("Hải Châu", ["Thạch Thang", "Hòa Cường Bắc"], ["Lê Duẩn", "Nguyễn Văn Linh"]),
        ("Thanh Khê", ["Chính Gián", "Tân Chính"], ["Điện Biên Phủ", "Hàm Nghi"]),
        ("Sơn Trà", ["An Hải Bắc", "Phước Mỹ"], ["Ngô Quyền", "Võ Nguyên Giáp"]),
    ]),
    "Cần Thơ": ("092", [
        ("Ninh Kiều", ["Tân An", "Xuân Khánh", "An Hòa"], ["Hòa Bình", "30 Tháng 4", "Mậu Thân"]),
        ("Cái Răng", ["Lê Bình", "Hưng Phú"], ["Trần Hưng Đạo", "Quang Trung"]),
    ]),
    "Hải Phòng": ("031", [
        ("Lê Chân", ["An Biên", "Dư Hàng Kênh"], ["Tô Hiệu", "Lạch Tray"]),
        ("Ngô Quyền", ["Máy Tơ", "Lạch Tray"], ["Điện Biên Phủ", "Lê Lợi"]),
        ("Hồng Bàng", ["Hoàng Văn Thụ", "Minh Khai"], ["Hoàng Văn Thụ", "Trần Phú"]),
    ]),
    "Khánh Hòa": ("056", [
        ("Nha Trang", ["Lộc Thọ", "Vĩnh Hòa"], ["Trần Phú", "Thống Nhất"]),
    ]),
    "Thừa Thiên Huế": ("046", [
        ("Huế", ["Vĩnh Ninh", "Phú Hội"], ["Lê Lợi", "Hùng Vương"]),
    ]),
    "Nghệ An": ("040", [
        ("Vinh", ["Hưng Bình", "Lê Mao"], ["Quang Trung", "Lê Lợi"]),
        ("Diễn Châu", ["Diễn Thịnh", "Diễn Kỷ"], ["Quốc lộ 1A", "Quốc lộ 7"]),
    ]),
    "Quảng Ninh": ("022", [
        ("Hạ Long", ["Bạch Đằng", "Hồng Hải"], ["Lê Thánh Tông", "Trần Hưng Đạo"]),
    ]),
    "Bình Dương": ("074", [
        ("Thủ Dầu Một", ["Phú Cường", "Hiệp Thành"], ["Đại lộ Bình Dương", "Yersin"]),
    ]),
    "Đồng Nai": ("075", [
        ("Biên Hòa", ["Tân Tiến", "Trung Dũng"], ["Phạm Văn Thuận", "Đồng Khởi"]),
    ]),
    "Lâm Đồng": ("068", [
        ("Đà Lạt", ["Phường 1", "Phường 2"], ["Phan Đình Phùng", "Trần Phú"]),
    ]),
    "Thanh Hóa": ("038", [
        ("Thanh Hóa", ["Điện Biên", "Lam Sơn"], ["Lê Lợi", "Bà Triệu"]),
    ]),
    "Bắc Ninh": ("027", [
        ("Bắc Ninh", ["Suối Hoa", "Tiền An"], ["Lý Thái Tổ", "Ngô Gia Tự"]),
    ]),
    "An Giang": ("089", [
        ("Long Xuyên", ["Mỹ Long", "Mỹ Bình"], ["Hai Bà Trưng", "Trần Hưng Đạo"]),
    ]),
}
# Where generated subscribers live (big cities weigh more).
PROVINCE_WEIGHTS = {"Hà Nội": 30, "TP Hồ Chí Minh": 34, "Đà Nẵng": 8, "Cần Thơ": 6,
                    "Hải Phòng": 6}

HOURS_MAIN = "7:30 - 21:00, cả tuần"
HOURS_BRANCH = "8:00 - 20:00, thứ Hai đến thứ Bảy"
HOURS_SMALL = "8:00 - 17:30, thứ Hai đến thứ Sáu"

# (name suffix, province, district, address, opening hours, is_main)
SHOPS: tuple[tuple[str, str, str, str, str, bool], ...] = (
    ("Cầu Giấy", "Hà Nội", "Cầu Giấy", "117 Trần Duy Hưng, phường Trung Hòa", HOURS_MAIN, True),
    ("Hoàn Kiếm", "Hà Nội", "Hoàn Kiếm", "2 Hàng Bài, phường Tràng Tiền", HOURS_MAIN, True),
    ("Đống Đa", "Hà Nội", "Đống Đa", "68 Láng Hạ, phường Láng Hạ", HOURS_BRANCH, False),
    ("Tây Sơn", "Hà Nội", "Đống Đa", "215 Tây Sơn, phường Trung Liệt", HOURS_SMALL, False),
    ("Ba Đình", "Hà Nội", "Ba Đình", "520 Kim Mã, phường Ngọc Khánh", HOURS_BRANCH, False),
    ("Hai Bà Trưng", "Hà Nội", "Hai Bà Trưng", "180 Bạch Mai, phường Cầu Dền", HOURS_BRANCH,
     False),
    ("Thanh Xuân", "Hà Nội", "Thanh Xuân", "275 Nguyễn Trãi, phường Thanh Xuân Trung",
     HOURS_SMALL, False),
    ("Quận 1", "TP Hồ Chí Minh", "Quận 1", "76 Lê Lợi, phường Bến Nghé", HOURS_MAIN, True),
    ("Quận 3", "TP Hồ Chí Minh", "Quận 3", "291 Nam Kỳ Khởi Nghĩa, phường Võ Thị Sáu",
     HOURS_MAIN, True),
    ("Cách Mạng Tháng Tám", "TP Hồ Chí Minh", "Quận 3",
     "412 Cách Mạng Tháng Tám, phường 11", HOURS_SMALL, False),
    ("Bình Thạnh", "TP Hồ Chí Minh", "Bình Thạnh", "150 Xô Viết Nghệ Tĩnh, phường 21",
     HOURS_BRANCH, False),
    ("Thủ Đức", "TP Hồ Chí Minh", "Thủ Đức", "12 Võ Văn Ngân, phường Linh Chiểu", HOURS_MAIN,
     True),
    ("Gò Vấp", "TP Hồ Chí Minh", "Gò Vấp", "340 Quang Trung, phường 10", HOURS_BRANCH, False),
    ("Tân Bình", "TP Hồ Chí Minh", "Tân Bình", "18 Cộng Hòa, phường 4", HOURS_BRANCH, False),
    ("Quận 7", "TP Hồ Chí Minh", "Quận 7", "469 Nguyễn Thị Thập, phường Tân Phong",
     HOURS_SMALL, False),
    ("Đà Nẵng", "Đà Nẵng", "Hải Châu", "42 Lê Duẩn, phường Thạch Thang", HOURS_MAIN, True),
    ("Thanh Khê", "Đà Nẵng", "Thanh Khê", "301 Điện Biên Phủ, phường Chính Gián",
     HOURS_BRANCH, False),
    ("Sơn Trà", "Đà Nẵng", "Sơn Trà", "88 Ngô Quyền, phường An Hải Bắc", HOURS_SMALL, False),
    ("Cần Thơ", "Cần Thơ", "Ninh Kiều", "52 Hòa Bình, phường Tân An", HOURS_MAIN, True),
    ("Cái Răng", "Cần Thơ", "Cái Răng", "9 Trần Hưng Đạo, phường Lê Bình", HOURS_SMALL, False),
    ("Hải Phòng", "Hải Phòng", "Lê Chân", "6 Tô Hiệu, phường An Biên", HOURS_MAIN, True),
    ("Ngô Quyền", "Hải Phòng", "Ngô Quyền", "120 Lạch Tray, phường Lạch Tray", HOURS_BRANCH,
     False),
    ("Khánh Hòa", "Khánh Hòa", "Nha Trang", "50 Thống Nhất, phường Vạn Thắng", HOURS_MAIN, True),
    ("Huế", "Thừa Thiên Huế", "Huế", "8 Hoàng Hoa Thám, phường Vĩnh Ninh", HOURS_MAIN, True),
    ("Nghệ An", "Nghệ An", "Vinh", "35 Quang Trung, phường Quang Trung", HOURS_MAIN, True),
    ("Quảng Ninh", "Quảng Ninh", "Hạ Long", "25 Lê Thánh Tông, phường Hồng Gai", HOURS_MAIN,
     True),
    ("Bình Dương", "Bình Dương", "Thủ Dầu Một", "230 Yersin, phường Phú Cường", HOURS_MAIN,
     True),
    ("Đồng Nai", "Đồng Nai", "Biên Hòa", "1 Phạm Văn Thuận, phường Tân Tiến", HOURS_MAIN, True),
    ("Lâm Đồng", "Lâm Đồng", "Đà Lạt", "12 Phan Đình Phùng, phường 1", HOURS_BRANCH, True),
    ("Thanh Hóa", "Thanh Hóa", "Thanh Hóa", "27 Lê Lợi, phường Điện Biên", HOURS_MAIN, True),
    ("Bắc Ninh", "Bắc Ninh", "Bắc Ninh", "16 Lý Thái Tổ, phường Suối Hoa", HOURS_MAIN, True),
    ("An Giang", "An Giang", "Long Xuyên", "18 Hai Bà Trưng, phường Mỹ Long", HOURS_MAIN, True),
)
