"""The 18 occupation codes of the call-center script (exactly one main code per
subscriber) and their Vietnamese labels."""

from __future__ import annotations

# Exactly one main occupation code per subscriber (call-center script, seed 002).
OCCUPATIONS: tuple[tuple[int, str], ...] = (
    (1, "Lực lượng vũ trang (quân đội, công an)"),
    (2, "Lãnh đạo trong cơ quan Đảng, Nhà nước, tổ chức chính trị - xã hội"),
    (3, "Quản lý trong doanh nghiệp"),
    (4, "Nhân viên văn phòng"),
    (5, "Chuyên môn khoa học tự nhiên và kỹ thuật"),
    (6, "Chuyên môn khoa học sự sống và sức khỏe (y tế, dược, thú y)"),
    (7, "Chuyên môn khoa học xã hội"),
    (8, "Tài chính, ngân hàng, kế toán"),
    (9, "Nông nghiệp, lâm nghiệp, thủy sản"),
    (10, "Giáo dục, giảng dạy"),
    (11, "Luật"),
    (12, "Nhà văn, nhà báo, nghệ sĩ"),
    (13, "Chức sắc tôn giáo"),
    (14, "Dịch vụ cá nhân (du lịch, nhà hàng, khách sạn, trông trẻ, bảo vệ, lái xe)"),
    (15, "Kinh doanh, bán hàng"),
    (16, "Lao động giản đơn, lao động tự do"),
    (17, "Học sinh, sinh viên"),
    (18, "Khác (nghỉ hưu, nội trợ)"),
)
OCCUPATION_LABELS = dict(OCCUPATIONS)
