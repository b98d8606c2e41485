"""What the assistant says to admins: the command line and reload notices."""

from __future__ import annotations

# Reloads (review chats, /reload)
RELOADED = "✅ Đã cập nhật dữ liệu: {faq} câu hỏi, {passages} đoạn tài liệu ({embedded} câu mới được mã hóa)."
RELOAD_FAILED = (
    "⚠️ Chưa cập nhật được dữ liệu vì tệp có lỗi. Bot vẫn trả lời bằng dữ liệu cũ.\n"
    "Xin sửa các lỗi sau (tệp:dòng):"
)
MORE_ERRORS = "… và {n} lỗi khác (xem nhật ký của bot)."

# Command line

# Serving
WEB_READY = "Trợ lý số đang chạy. Mở {url} trong trình duyệt để trò chuyện."

# Bulletins (`trolyso broadcast`)
BROADCAST_PREVIEW_HEADER = "👀 Xem trước bản tin «{id}» (người dân sẽ nhận đúng như tin dưới đây):"
BROADCAST_CONFIRM = "Gửi bản tin «{id}» tới {targets} người đăng ký? [c/K] "
BROADCAST_CONFIRM_YES = ("c", "co", "có", "y", "yes")

# Contest leaderboards posted to the admin chats each week (bot.contest_posts)
QUIZ_POST_TITLE = "🏆 Cuộc thi «{title}»: bảng xếp hạng tuần {week} ({start} – {end})"
QUIZ_POST_OVERALL = "🏁 Kết quả cả cuộc thi ({start} – {end}):"
QUIZ_POST_ROW = "{n}. {name}: {participants} người tham gia, {rounds} lượt, điểm trung bình {average}, đúng {percent}%"
QUIZ_POST_NONE = "Chưa có xã, phường nào đủ {min} người tham gia để xếp hạng."
QUIZ_POST_HIDDEN = "({n} xã, phường có dưới {min} người tham gia chưa được xếp hạng.)"
