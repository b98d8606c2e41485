"""Every Vietnamese sentence and label of the reports (the report's template)."""

from __future__ import annotations

KIND_LABELS = {
    "faq": "Trả lời từ bộ câu hỏi thường gặp",
    "knowledge": "Trả lời từ tài liệu",
    "clarify": "Hỏi lại để làm rõ",
    "chitchat": "Chào hỏi, trò chuyện",
    "unanswered": "Chưa trả lời được",
}
CHANNEL_LABELS = {"telegram": "Telegram", "zalo": "Zalo", "web": "Trang web", "cli": "Dòng lệnh (thử nghiệm)"}
REVIEW_LABELS = {
    "opened": "Câu hỏi chuyển tổ công nghệ số",
    "answered": "Đã trả lời (tổ soạn câu trả lời)",
    "linked": "Đã trả lời bằng câu hỏi có sẵn",
    "ignored": "Bỏ qua",
    "pending": "Đang chờ xử lý",
    "delivered": "Câu trả lời đã gửi tới người dân",
    "undeliverable": "Không gửi được",
    "median_hours": "Thời gian trả lời, trung vị (giờ)",
    "p90_hours": "Thời gian trả lời, 90% câu hỏi trong vòng (giờ)",
}
HANDOFF_LABELS = {
    "opened": "Người dân đề nghị gặp cán bộ",
    "taken": "Cán bộ đã nhận trò chuyện",
    "median_first_reply_minutes": "Thời gian đến câu trả lời đầu tiên của cán bộ, trung vị (phút)",
}
CHANGE_LABELS = {"added": "Câu hỏi thêm mới", "edited": "Câu hỏi sửa nội dung", "removed": "Câu hỏi gỡ bỏ",
                 "alternates": "Câu hỏi được bổ sung cách hỏi khác"}

HEADER_AGENCY = "ỦY BAN NHÂN DÂN TỈNH LAI CHÂU"
HEADER_MOTTO = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM — Độc lập - Tự do - Hạnh phúc"
INTRO = ("Thực hiện chế độ báo cáo định kỳ theo Kế hoạch (mục V.11), báo cáo tổng hợp kết quả hoạt động "
         "của Trợ lý số {span} trên các kênh Telegram, Zalo và trang web, như sau:")
PARTIAL = "Số liệu tính đến {until} (báo cáo gửi trước hạn ngày 15)."
OFFICIAL = "Kỳ báo cáo theo Nghị định 09/2019/NĐ-CP."
WITH_CLI = "Có tính cả câu hỏi thử nghiệm qua dòng lệnh."
EMPTY = "Trong kỳ báo cáo không có câu hỏi nào của người dân."
PRIVACY = ("Nội dung câu hỏi đã được ẩn thông tin cá nhân; người hỏi được đếm bằng mã ẩn danh; nhóm câu hỏi "
           "chưa trả lời chỉ nêu khi có từ 3 người hỏi trở lên. Nội dung trò chuyện xã giao không được lưu.")
GENERATED = "Báo cáo do hệ thống Trợ lý số lập tự động lúc {at}."

SECTION_TOTALS = "1. Số liệu chung"
SECTION_KINDS = "2. Kết quả trả lời"
SECTION_CHANNELS = "3. Theo kênh"
SECTION_TOPICS = "4. Theo lĩnh vực"
SECTION_COMMUNES = "5. Theo xã, phường"
SECTION_DAYS = "6. Số câu hỏi theo ngày"
SECTION_HOURS = "7. Khung giờ hỏi nhiều"
SECTION_TOP_FAQ = "8. 10 câu hỏi được hỏi nhiều nhất"
SECTION_UNANSWERED = "9. Nhóm câu hỏi chưa trả lời được nhiều người hỏi nhất"
SECTION_REVIEW = "10. Kết quả xử lý của tổ công nghệ số cộng đồng"
SECTION_FEEDBACK = "11. Ý kiến phản hồi của người dân"
SECTION_CHANGES = "12. Cập nhật bộ câu hỏi trong kỳ"

TOTAL_QUESTIONS = "Tổng số câu hỏi"
TOTAL_CITIZENS = "Số người hỏi"
ANSWER_RATE = "Tỷ lệ trả lời được (không tính chào hỏi)"
PREVIOUS = "Số câu hỏi kỳ trước"
CHANGE = "Tăng/giảm so với kỳ trước"
NONE = "—"

COL_ITEM = "Nội dung"
COL_COUNT = "Số lượng"
COL_SHARE = "Tỷ lệ"
COL_DAY = "Ngày"
COL_HOUR = "Giờ"
COL_QUESTION = "Câu hỏi"
COL_CITIZENS = "Số người hỏi"
COL_TOPIC = "Lĩnh vực"
COL_COMMUNE = "Xã, phường"
COL_CHANNEL = "Kênh"
COL_UP = "Hữu ích (👍, đúng)"
COL_DOWN = "Chưa hữu ích (👎, sai)"
COL_UP_SHARE = "Tỷ lệ hữu ích"
DOCUMENTS_TOPIC = "Trả lời từ tài liệu"

CHART_DAYS = "Số câu hỏi theo ngày"
CHART_TOPICS = "Câu hỏi theo lĩnh vực"
CHART_COMMUNES = "Câu hỏi theo xã, phường"
CHART_CHANNELS = "Câu hỏi theo kênh"
CHART_HOURS = "Câu hỏi theo giờ trong ngày"

# Telegram message of a report (scheduled or /baocao)
MESSAGE = (
    "📊 {title}\n{span}\n{partial}\n"
    "• Tổng số câu hỏi: {questions} (kỳ trước: {previous})\n"
    "• Số người hỏi: {citizens}\n"
    "• Tỷ lệ trả lời được: {rate}\n"
    "• Telegram / Zalo / Web: {telegram} / {zalo} / {web}\n"
    "• Chuyển tổ công nghệ số: {opened}, đã trả lời: {delivered}\n"
    "• Phản hồi 👍 / 👎: {helpful} / {not_helpful}\n"
    "Tệp báo cáo gửi kèm."
)
BAOCAO_USAGE = "Cú pháp: /baocao 2026-11 (tháng), /baocao 2026-H1 (6 tháng) hoặc /baocao 2026 (năm)."
BAOCAO_BAD = "Không đọc được kỳ báo cáo «{text}». " + BAOCAO_USAGE
BAOCAO_FAILED = "Chưa lập được báo cáo (cơ sở dữ liệu chưa sẵn sàng). Xin thử lại sau."

# Quiz contests (issue 17): rounds counted in a contest during the period
SECTION_QUIZ = "13. Cuộc thi đố vui kỹ năng số (lượt được tính)"
COL_ROUNDS = "Số lượt"
COL_PARTICIPANTS = "Số người tham gia"
COL_AVERAGE = "Điểm trung bình"
COL_RIGHT_SHARE = "Tỷ lệ trả lời đúng"
QUIZ_TOTAL = "Tổng cộng"
QUIZ_NOTE = ("Mỗi người chỉ được tính lượt thi đầy đủ đầu tiên trong ngày; điểm trung bình của xã, phường "
             "có dưới 5 người tham gia không được nêu.")
MESSAGE_QUIZ = "• Cuộc thi đố vui: {rounds} lượt được tính, {participants} người tham gia"
