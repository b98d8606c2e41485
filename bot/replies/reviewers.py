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

# Hand-off: a citizen asks to talk to a person (issue 16)
HANDOFF_TITLE = "🙋 Người dân cần gặp cán bộ (#{hid})"
HANDOFF_SUMMARY = "Cần giúp: “{summary}”"
HANDOFF_CHANNEL = "Kênh: {channel}. Lúc {when}."
HANDOFF_RECENT = "Tin nhắn gần đây (đã che thông tin cá nhân):"
HANDOFF_OUTSIDE_HOURS = "⏰ Gửi ngoài giờ làm việc; người dân đã được báo sẽ có trả lời từ {when}."
HANDOFF_SCAM = "🚨 Có thể đang bị lừa: bot đã gửi ngay các bước khẩn cấp cho người dân."
HANDOFF_HOW = ("Bấm “Nhận” rồi TRẢ LỜI (reply) tin nhắn của bot trong chuỗi này để nói chuyện với người dân. "
               "Không hỏi mật khẩu, mã OTP, số căn cước đầy đủ.")
HANDOFF_BUTTON_TAKE = "🙋 Nhận"
HANDOFF_BUTTON_PROVINCE = "⬆️ Chuyển tỉnh"
HANDOFF_BUTTON_END = "✅ Kết thúc"
HANDOFF_BUTTON_LINK = "📋 Là câu hỏi có sẵn"
HANDOFF_BUTTON_PROMOTE = "📚 Thêm vào câu hỏi thường gặp"
HANDOFF_TAKEN = "🙋 {who} đã nhận #{hid}. Trả lời (reply) tin nhắn này để nói với người dân."
HANDOFF_ALREADY_TAKEN = "#{hid} đã có {who} nhận rồi."
HANDOFF_CLOSED_ALREADY = "#{hid} đã kết thúc rồi."
HANDOFF_FROM_CITIZEN = "💬 Người dân (#{hid}):\n{text}"
HANDOFF_PHOTO_FROM_CITIZEN = "🖼 Người dân (#{hid}) gửi ảnh{caption}"
HANDOFF_SENT = "✓ Đã gửi tới người dân."
HANDOFF_UNDELIVERABLE = "⚠️ #{hid}: không gửi được tới người dân ({problem})."
HANDOFF_RETRYING = "⏳ #{hid}: chưa gửi được tới người dân; bot sẽ tự gửi lại."
HANDOFF_TRANSFERRED = "⬆️ {who} đã chuyển #{hid} lên tổ của tỉnh."
HANDOFF_TRANSFERRED_NOTE = "⬆️ Chuyển từ {commune}."
HANDOFF_NO_PROVINCE = "Chưa cấu hình nhóm của tỉnh (TROLYSO_REVIEW_CHAT_IDS); không chuyển được."
HANDOFF_ENDED_TEAM = "✅ {who} đã kết thúc #{hid}."
HANDOFF_ENDED_CITIZEN = "✅ Người dân đã kết thúc #{hid}."
HANDOFF_ENDED_IDLE = "⌛ #{hid} tự kết thúc sau {hours} giờ không có tin nhắn."
HANDOFF_TEACH = "Dạy bot từ cuộc trò chuyện #{hid}: “{summary}”"
HANDOFF_PICK = "#{hid}: chọn câu hỏi có sẵn trùng ý với “{summary}”:"
HANDOFF_NO_ANSWER = "#{hid} chưa có câu trả lời nào của cán bộ để làm câu hỏi thường gặp."
HANDOFF_LINKED = ("📚 Đã thêm “{summary}” vào các câu người dân đã hỏi của mục {faq_id} (danh sách learned); "
                  "bot sẽ tự cập nhật sau ít giây.")
HANDOFF_PROMOTED = "📚 Đã thêm #{hid} thành câu hỏi thường gặp mới: {faq_id}. Bot sẽ tự cập nhật sau ít giây."
CHANNEL_NAMES.update({"web": "trò chuyện trên web"})
HANDOFF_PHOTO_UNSUPPORTED = (
    "⚠️ #{hid}: người dân dùng {channel}, kênh này không nhận được ảnh gửi từ nhóm. "
    "Bạn hãy mô tả bằng chữ nhé."
)
