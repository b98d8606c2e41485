"""What the assistant says to the community teams in their Telegram review chats."""

from __future__ import annotations

BUTTON_ANSWER = "✍️ Trả lời"
BUTTON_LINK = "📋 Là câu hỏi có sẵn"
BUTTON_IGNORE = "🚫 Bỏ qua"
BUTTON_CANCEL = "Hủy"
BUTTON_PROMOTE = "📚 Thêm vào câu hỏi thường gặp"
POST_TITLE = "🆕 Nhóm câu hỏi #{gid}: {count} người hỏi"
POST_OTHER = "Cách hỏi khác:"
POST_WHEN = "Kênh: {channels}. Từ {first} đến {last}."
POST_THUMBS = "Trong đó {n} câu bot đã trả lời nhưng người hỏi chê 👎."
POST_CANDIDATES = "Câu có sẵn gần nhất:"
POST_NO_CANDIDATES = "Không có câu có sẵn nào gần."
REFUSED = ("Xin lỗi, chỉ thành viên nhóm duyệt câu hỏi của tổ công nghệ số cộng đồng "
           "mới dùng được chức năng này.")
EXPIRED = "Nút này đã hết hạn."
ALREADY = "Nhóm #{gid} đã được xử lý rồi ({status})."
PROMPT = ("✍️ {who}, xin trả lời tin nhắn này bằng nội dung trả lời cho nhóm #{gid}:\n"
          "“{text}”\nCâu trả lời sẽ được gửi tới {count} người đã hỏi. Gõ “hủy” để thôi.")
PROMPT_PLACEHOLDER = "Câu trả lời cho người dân…"
CANCELLED = "Đã hủy."
PICK_TITLE = "Nhóm #{gid}: chọn câu hỏi có sẵn trùng ý với “{text}”:"
NO_CANDIDATES = "Không có câu có sẵn nào gần. Quản trị viên có thể dùng lệnh: trolyso review link {gid} <mã câu hỏi>"
ANSWERED = "✅ Nhóm #{gid}: đã gửi câu trả lời tới {sent} người."
LINKED = "✅ Nhóm #{gid}: đã gửi câu trả lời có sẵn ({faq_id}) tới {sent} người."
UNDELIVERABLE = "{n} người không nhận được (có thể đã chặn bot)."
RETRY = "{n} người chưa gửi được, bot sẽ tự gửi lại sau."
TAUGHT = "📚 Đã thêm {n} cách hỏi mới vào mục {faq_id}; bot sẽ tự cập nhật sau ít giây."
NOTHING_TAUGHT = "Các cách hỏi này đã có trong mục {faq_id}."
TEACH_FAILED = "⚠️ Chưa ghi được vào tệp câu hỏi thường gặp:\n{error}"
PROMOTED = "📚 Đã thêm nhóm #{gid} thành câu hỏi thường gặp mới: {faq_id}. Bot sẽ tự cập nhật sau ít giây."
IGNORED = "🚫 {who} đã bỏ qua nhóm #{gid}."
FAILED = "⚠️ Không làm được: {error}"
RELOADING = "⏳ Đang cập nhật dữ liệu…"
CHANNEL_NAMES = {"telegram": "Telegram", "zalo": "Zalo", "cli": "dòng lệnh"}
MEMBER = "Thành viên"  # a reviewer without a name

# Communes: the citizens' xã or phường on a post (the team of a commune with its own review chat
# gets the questions of its citizens)
POST_COMMUNE = "📍 Xã, phường: {names}"
