"""Every Vietnamese sentence the assistant says, in one place (short, polite, simple)."""

from __future__ import annotations

HELP_IN_PERSON = (
    "Bạn có thể hỏi trực tiếp tổ công nghệ số cộng đồng ở thôn, bản, "
    "hoặc bộ phận một cửa của xã, phường."
)

GREETING = (
    "Xin chào! Tôi là Trợ lý số, giúp bà con dùng các dịch vụ số: VNeID, dịch vụ công trực tuyến, "
    "chuyển tiền, phòng chống lừa đảo, bảo vệ dữ liệu cá nhân, Nghị quyết 57 và nhiều việc khác.\n"
    "Bạn cứ gõ câu hỏi ngắn gọn, có dấu hay không dấu đều được. "
    "Ví dụ: \"quên mật khẩu VNeID thì làm sao?\""
)
THANKS = "Không có gì ạ. Bạn cần hỏi thêm gì cứ nhắn cho tôi nhé."
GOODBYE = "Tạm biệt bạn. Chúc bạn một ngày tốt lành!"
IDENTITY = (
    "Tôi là Trợ lý số, một chương trình máy tính trả lời tự động các câu hỏi về kỹ năng số và "
    "dịch vụ công. Câu nào tôi chưa biết sẽ được chuyển cho tổ công nghệ số cộng đồng trả lời."
)
ACK = "Vâng ạ. Bạn cần hỏi gì thêm cứ nhắn cho tôi nhé."

EMPTY = "Bạn hãy gõ câu hỏi bằng chữ, ví dụ: \"cách đăng ký tài khoản VNeID\"."
UNANSWERED = (
    "Xin lỗi, tôi chưa có câu trả lời cho câu hỏi này. "
    "Câu hỏi đã được ghi lại để tổ công nghệ số cộng đồng trả lời sau.\n" + HELP_IN_PERSON
)
UNANSWERED_NOT_LOGGED = "Xin lỗi, tôi chưa có câu trả lời cho câu hỏi này.\n" + HELP_IN_PERSON
CLARIFY = "Tôi chưa chắc đã hiểu đúng. Có phải bạn muốn hỏi:"
CLARIFY_NONE = "Không phải các câu trên"
KNOWLEDGE_PREFIX = "Theo {source}:"
SOURCE_LINE = "Nguồn: {source}"
REJECTED = (
    "Cảm ơn bạn. Câu hỏi đã được chuyển cho tổ công nghệ số cộng đồng để trả lời sau.\n"
    + HELP_IN_PERSON
)
FEEDBACK_THANKS = "Cảm ơn bạn đã góp ý!"
FEEDBACK_SORRY = "Xin lỗi vì câu trả lời chưa đúng. Câu hỏi đã được chuyển cho tổ công nghệ số cộng đồng."
TEXT_ONLY = "Xin lỗi, tôi chỉ đọc được tin nhắn chữ. Bạn hãy gõ câu hỏi bằng chữ nhé."
RATE_LIMITED = "Bạn hỏi nhanh quá, xin chờ một chút rồi hỏi tiếp nhé."
TOPICS = "Bạn muốn hỏi về chủ đề nào?"
TOPIC_QUESTIONS = "Một số câu hỏi thường gặp về chủ đề này:"
COMMUNITY_ANSWER = "Trả lời từ tổ công nghệ số cộng đồng cho câu hỏi \"{question}\":\n{answer}"

# Channels (Telegram, Zalo)
SORRY_ERROR = "Xin lỗi, hệ thống đang gặp sự cố. Bạn vui lòng thử lại sau ít phút."
NO_QUESTIONS_IN_TOPIC = "Chủ đề này chưa có câu hỏi nào. Bạn hãy gõ câu hỏi của mình nhé."
EXPIRED_BUTTON = "Nút này đã hết hạn. Bạn hãy gõ lại câu hỏi nhé."
FEEDBACK_HELPFUL = "👍 Hữu ích"
FEEDBACK_WRONG = "👎 Chưa đúng"
ZALO_TOPICS_FOOTER = "Bạn trả lời bằng một số để xem các câu hỏi, hoặc gõ câu hỏi của mình."
ZALO_QUESTIONS_FOOTER = "Bạn trả lời bằng số thứ tự để xem câu trả lời."
ZALO_CONFIRM_FOOTER = "Bạn trả lời 1 hoặc 0."
ZALO_CLARIFY_FOOTER = "Bạn trả lời bằng số thứ tự (1–{n}), hoặc 0 nếu không có câu nào đúng."
ZALO_FEEDBACK_HINT = "Không đúng câu bạn hỏi? Bạn gõ “sai”. Đúng rồi thì gõ “đúng” nhé."
ZALO_OUT_OF_RANGE = "Bạn hãy trả lời bằng một số từ {low} đến {high}, hoặc gõ câu hỏi của mình."
ZALO_EXPIRED_CHOICE = "Danh sách lựa chọn đã hết hạn. Bạn hãy gõ lại câu hỏi nhé."

# Console chat (trolyso chat)
CHAT_HINT = "(Gõ câu hỏi rồi nhấn Enter. Gõ \"thoát\" hoặc nhấn Ctrl+D để kết thúc.)"
CHAT_PROMPT = "Bạn: "
CHAT_SPEAKER = "Trợ lý số: "
CHAT_ANSWER_BY_NUMBER = "(Trả lời bằng một số.)"

# Commands and /help
# What each command does: the /help text and the Telegram command menu (1-256 characters).
# Each starts with a verb, so that the /help text can say "gõ ... để <description>".
COMMAND_START = "Xem lời chào và các chủ đề"
COMMAND_HELP = "Xem hướng dẫn cách hỏi"
COMMAND_MENU = "Chọn chủ đề rồi chọn câu hỏi"

HELP_INTRO = "Tôi là Trợ lý số. Bạn có thể:"
HELP_ASK = (
    "• Gõ câu hỏi bằng lời của mình, có dấu hay không dấu đều được, "
    "ví dụ: \"quên mật khẩu VNeID\"."
)
HELP_COMMAND = "• Gõ “{phrase}” (hoặc {slash}) để {description}."
HELP_COMMAND_NO_SLASH = "• Gõ “{phrase}” để {description}."
HELP_NUMBERS = "• Trên Zalo, gặp danh sách có đánh số, bạn trả lời bằng một số, ví dụ: 1."
HELP_RATE = (
    "• Sau mỗi câu trả lời, bạn nhắn “đúng” hoặc “sai” để tôi biết."
)

# Showing what was matched (a near-miss answer is visibly about something else)
MATCHED_QUESTION = "Về câu hỏi: «{question}»"
CONFIRM = "Có phải bạn hỏi: «{question}»?"
CONFIRM_YES = "Đúng"
CONFIRM_NO = "Không phải"
FEEDBACK_PROMPT = "Không đúng câu bạn hỏi? Bấm 👎"

# Web chat (the widget shows these; it holds no text of its own)
WEB_TITLE = "Trợ lý số"
WEB_OPEN = "Mở trò chuyện với Trợ lý số"
WEB_CLOSE = "Đóng"
WEB_PLACEHOLDER = "Gõ câu hỏi của bạn…"
WEB_SEND = "Gửi"
WEB_CLEAR = "Xóa cuộc trò chuyện"
WEB_CLEARED = "Đã xóa cuộc trò chuyện trên máy này."
WEB_TYPING = "Trợ lý số đang trả lời…"
WEB_YOU = "Bạn"
WEB_BOT = "Trợ lý số"
WEB_TEAM = "Tổ công nghệ số cộng đồng"
WEB_ERROR = "Xin lỗi, chưa gửi được. Bạn kiểm tra mạng rồi thử lại nhé."
WEB_TOO_LONG = "Câu hỏi dài quá. Bạn viết ngắn lại (dưới 2.000 chữ) nhé."
WEB_HELPFUL = "Hữu ích"
WEB_NOT_HELPFUL = "Chưa đúng"
WEB_THANKS = FEEDBACK_THANKS
WEB_SOURCE = "Nguồn"


# Communes: the citizen tells the bot their xã or phường (optional), so that questions the bot
# cannot answer go to that commune's team.
COMMAND_COMMUNE = "Cho biết bạn ở xã, phường nào"
COMMUNE_OFFER = (
    "Nếu muốn, bạn cho tôi biết bạn ở xã, phường nào (gõ “đổi xã”): câu hỏi tôi chưa trả lời được "
    "sẽ được chuyển tới cán bộ xã, phường của bạn. Không bắt buộc, bạn vẫn hỏi được ngay."
)
COMMUNE_OFFER_BUTTON = "📍 Chọn xã, phường của bạn"
COMMUNE_ASK = "Bạn ở xã, phường nào? Bạn gõ tên xã, ví dụ: Mường Kim (có dấu hay không dấu đều được)."
COMMUNE_ASK_CURRENT = "Hiện tôi ghi bạn ở {label}. Bạn gõ tên xã, phường mới, hoặc gõ “bỏ qua” để giữ nguyên."
COMMUNE_SET = "Đã ghi nhận: bạn ở {label}. Câu hỏi tôi chưa trả lời được sẽ được chuyển tới cán bộ {label}."
COMMUNE_VIA = "{former} cũ nay thuộc {label}."
COMMUNE_CHOICES = "Có phải bạn ở một trong các xã, phường sau?"
COMMUNE_CHOICE_VIA = "{label} (gồm {former} cũ)"
COMMUNE_NOT_FOUND = (
    "Tôi chưa tìm thấy xã, phường «{text}» ở Lai Châu. Bạn gõ lại tên xã (ví dụ: Mường Kim), "
    "hoặc gõ “bỏ qua”."
)
COMMUNE_SKIPPED = "Vâng ạ. Bạn cứ gõ câu hỏi của mình nhé."
COMMUNE_SKIP_WORDS = ("bỏ qua", "thôi", "hủy", "huỷ", "không", "khong", "bo qua", "huy", "thoi")
ZALO_COMMUNE_FOOTER = "Bạn trả lời bằng số thứ tự, hoặc gõ lại tên xã."


# Quiz "Công dân số thông minh" (issue 17): short rounds of questions in the chat.
COMMAND_QUIZ = "Thi đố vui về kỹ năng số (5 câu)"
QUIZ_INTRO = "Đố vui kỹ năng số: {n} câu. Bạn chọn đáp án đúng nhé."
QUIZ_INTRO_TOPIC = "Đố vui kỹ năng số về «{topic}»: {n} câu. Bạn chọn đáp án đúng nhé."
QUIZ_QUESTION = "Câu {i}/{n}: {question}"
QUIZ_ZALO_FOOTER = "Bạn trả lời bằng số thứ tự (từ 1 đến {n})."
QUIZ_RIGHT = "✅ Đúng rồi!"
QUIZ_WRONG = "❌ Chưa đúng. Đáp án đúng là: {option}."
QUIZ_SCORE = "Bạn trả lời đúng {score}/{n} câu."
QUIZ_SCORE_ALL = "Bạn trả lời đúng {score}/{n} câu. Rất giỏi! 🎉"
QUIZ_READ_MORE = "Đọc thêm:"
QUIZ_ZALO_READ_MORE_FOOTER = "Gõ số thứ tự để đọc, hoặc gõ “thi” để chơi lượt mới."
QUIZ_AGAIN = "Gõ “thi” để chơi lượt mới."
QUIZ_NONE = "Hiện chưa có câu đố về chủ đề này. Bạn gõ “thi” để chơi các chủ đề khác nhé."
QUIZ_OFF = "Hiện chưa có câu đố. Bạn cứ gõ câu hỏi của mình nhé."
QUIZ_EXPIRED = "Lượt đố vui này đã hết giờ. Bạn gõ “thi” để chơi lượt mới nhé."
QUIZ_ALREADY = "Câu này bạn đã trả lời rồi."

# Talking to a person (hand-off to the community team, issue 16)
COMMAND_HANDOFF = "Nói chuyện với cán bộ"
COMMAND_HANDOFF_END = "Dừng nói chuyện với cán bộ"
HANDOFF_BUTTON = "🙋 Hỏi cán bộ"
HANDOFF_ASK_SUMMARY = (
    "Vâng ạ. Bạn viết một câu ngắn: bạn cần giúp việc gì? "
    "Ví dụ: \"VNeID mức 2 của tôi báo đang xử lý đã lâu\"."
)
HANDOFF_TEAM_PROVINCE = "tổ công nghệ số cộng đồng của tỉnh"
HANDOFF_TEAM_COMMUNE = "tổ công nghệ số cộng đồng {label}"
HANDOFF_OPENED = "Tôi đã chuyển câu hỏi của bạn tới {team}: “{summary}”."
HANDOFF_SOON = "Cán bộ sẽ trả lời bạn ngay tại đây, thường trong ít phút đến vài giờ (giờ làm việc)."
HANDOFF_LATER = "Bây giờ là ngoài giờ làm việc. Cán bộ sẽ trả lời bạn tại đây từ {when}."
HANDOFF_WARNING = (
    "⚠️ Không bao giờ gửi mật khẩu, mã OTP, số căn cước đầy đủ, "
    "hay ảnh thẻ căn cước, thẻ ngân hàng cho bất kỳ ai, kể cả cán bộ."
)
HANDOFF_HOW = "Bạn cứ nhắn tiếp ở đây. Muốn dừng, bạn gõ “kết thúc”."
HANDOFF_ALREADY = "Bạn đang trò chuyện với cán bộ. Bạn cứ nhắn ở đây; muốn dừng, gõ “kết thúc”."
HANDOFF_NONE = "Hiện bạn không trò chuyện với cán bộ nào. Bạn cứ gõ câu hỏi cho tôi nhé."
HANDOFF_FROM_MEMBER = "👤 {name} (tổ công nghệ số cộng đồng):\n{text}"
HANDOFF_FROM_TEAM = "👤 {team}:\n{text}"
HANDOFF_TAKEN = "👤 {name} của tổ công nghệ số cộng đồng đã nhận câu hỏi của bạn và sẽ trả lời ngay tại đây."
HANDOFF_CLOSED_CITIZEN = "Đã kết thúc cuộc trò chuyện với cán bộ. Cảm ơn bạn! Bạn có thể hỏi tôi tiếp bất cứ lúc nào."
HANDOFF_CLOSED_TEAM = (
    "Cán bộ đã kết thúc cuộc trò chuyện. Cảm ơn bạn! Cần hỏi thêm, bạn cứ nhắn cho tôi, "
    "hoặc gõ “gặp cán bộ”."
)
HANDOFF_CLOSED_IDLE = (
    "Cuộc trò chuyện với cán bộ đã tự kết thúc vì lâu không có tin nhắn mới. "
    "Cần hỏi thêm, bạn gõ “gặp cán bộ”."
)
HANDOFF_NOT_SENT = "Xin lỗi, tin nhắn chưa chuyển được tới cán bộ. Bạn vui lòng gửi lại sau ít phút."
HANDOFF_PHOTO_REMINDER = (
    "Đã chuyển ảnh tới cán bộ. Nhắc bạn: không gửi ảnh thẻ căn cước, thẻ ngân hàng hay mã OTP."
)
HANDOFF_EMERGENCY = (
    "🚨 Nếu bạn đang bị lừa hoặc vừa chuyển tiền cho kẻ gian, hãy làm ngay, không chờ cán bộ:\n"
    "• Gọi ngay tổng đài ngân hàng của bạn để chặn, tra soát giao dịch.\n"
    "• Gọi 113 hoặc báo công an xã, phường nơi gần nhất."
)
HANDOFF_WEEKDAYS = ("thứ Hai", "thứ Ba", "thứ Tư", "thứ Năm", "thứ Sáu", "thứ Bảy", "Chủ nhật")
HANDOFF_WHEN = "{time} {day} ({date})"
HANDOFF_PHRASES = ("gặp cán bộ", "nói chuyện với người thật", "hỏi cán bộ", "gặp người thật", "nói chuyện với cán bộ")
HANDOFF_END_PHRASES = ("kết thúc",)
HANDOFF_UNAVAILABLE = "Xin lỗi, hiện chưa nói chuyện trực tiếp với cán bộ qua đây được.\n" + HELP_IN_PERSON

# Bulletins (bản tin): opting in and out, and what every bulletin carries.
COMMAND_SUBSCRIBE = "Nhận bản tin: cảnh báo lừa đảo, tin của tỉnh"
COMMAND_UNSUBSCRIBE = "Dừng nhận bản tin"
SUBSCRIBED = (
    "Cảm ơn bạn đã đăng ký nhận bản tin của Trợ lý số. Bạn sẽ nhận:\n"
    "• cảnh báo lừa đảo, ứng dụng giả mạo;\n"
    "• hướng dẫn kỹ năng số, dịch vụ công trực tuyến;\n"
    "• thông báo của tỉnh và của xã, phường bạn (nếu bạn đã cho biết xã, gõ “đổi xã”).\n"
    "Tôi không gửi tin vào ban đêm. Muốn dừng, bạn gõ “dừng nhận tin” bất cứ lúc nào."
)
ALREADY_SUBSCRIBED = "Bạn đã đăng ký nhận bản tin rồi. Muốn dừng, bạn gõ “dừng nhận tin”."
UNSUBSCRIBED = (
    "Đã dừng gửi bản tin cho bạn. Tôi đã xóa thông tin dùng để gửi tin cho bạn. "
    "Bạn vẫn hỏi tôi được như thường. Muốn nhận lại, gõ “đăng ký nhận tin”."
)
NOT_SUBSCRIBED = "Bạn chưa đăng ký nhận bản tin nên tôi không gửi tin cho bạn. Muốn nhận, gõ “đăng ký nhận tin”."
SUBSCRIBE_BUTTON = "🔔 Đăng ký nhận tin"
UNSUBSCRIBE_BUTTON = "🔕 Dừng nhận tin"
BULLETIN_HEADER = "📢 Bản tin Trợ lý số: {title}"
BULLETIN_FOOTER = (
    "🔒 Trợ lý số không bao giờ hỏi mật khẩu hay mã OTP của bạn. Đừng đưa cho bất kỳ ai.\n"
    "Muốn dừng nhận tin, gõ “dừng nhận tin”."
)
SERVICE_UNAVAILABLE = "Xin lỗi, lúc này tôi chưa làm được việc này. Bạn thử lại sau ít phút nhé."

# Personal data (Law 91/2025/QH15): what the bot keeps about a citizen, and deleting it.
COMMAND_MY_DATA = "Xem tôi đang lưu những gì về bạn"
COMMAND_ERASE = "Xóa mọi dữ liệu tôi lưu về bạn"
MY_DATA = (
    "Tôi đang lưu về bạn:\n"
    "• Một mã ẩn danh thay cho tài khoản của bạn (tôi không lưu tên, số điện thoại).\n"
    "• Xã, phường: {commune}.\n"
    "• Nhận bản tin: {subscription}.\n"
    "• Câu hỏi bạn đã hỏi: {questions} câu (số điện thoại, số giấy tờ đã được che đi).\n"
    "• Câu hỏi đang chờ cán bộ trả lời: {waiting} câu.\n"
    "Muốn xóa hết, bạn gõ “xóa dữ liệu của tôi”."
)
MY_DATA_NO_COMMUNE = "chưa cho biết"
MY_DATA_SUBSCRIBED = "có (tôi giữ mã cuộc trò chuyện để gửi tin cho bạn)"
MY_DATA_NOT_SUBSCRIBED = "không"
ERASE_CONFIRM = (
    "Bạn có chắc muốn xóa mọi dữ liệu tôi lưu về bạn không? Gồm: xã, phường; đăng ký nhận tin; "
    "các câu hỏi đã hỏi và câu hỏi đang chờ trả lời. Xóa rồi thì không lấy lại được."
)
ERASE_YES = "🗑 Xóa hết"
ERASE_NO = "Không xóa"
ZALO_ERASE_FOOTER = "Bạn gõ “xóa” để xác nhận, hoặc “không” để giữ lại."
ERASE_YES_WORDS = ("xóa", "xoá", "xoa", "xóa hết", "xoá hết", "xoa het", "đồng ý", "dong y", "có", "co", "đúng", "dung")
ERASED = "Đã xóa mọi dữ liệu tôi lưu về bạn. Bạn vẫn hỏi tôi được như thường."
ERASE_KEPT = "Vâng, tôi giữ nguyên dữ liệu của bạn."

# The quiz offer after an FAQ answer (issue 17): at most once a day, one line, never repeated.
QUIZ_OFFER = "Thử 3 câu đố về chủ đề này?"
QUIZ_OFFER_BUTTON = "🧩 Thử 3 câu đố"
QUIZ_ZALO_OFFER = "Thử 3 câu đố về chủ đề này? Gõ “thử” nếu bạn muốn."
QUIZ_OFFER_WORDS = ("thử", "thu", "thử đi", "thu di", "thử nhé", "thu nhe", "thử ạ", "thu a", "đố", "do")

# Quiz contests (issue 17): a full round a day counts for the citizen's commune.
QUIZ_CONTEST_ROUND = (
    "Lượt này thuộc cuộc thi «{title}». Lượt làm hết đầu tiên mỗi ngày được tính điểm cho xã, phường của bạn."
)
QUIZ_CONTEST_COUNTED = "Lượt này đã được tính cho cuộc thi «{title}». Cảm ơn bạn!"
QUIZ_CONTEST_NO_COMMUNE = (
    "Lượt này đã được ghi nhận cho cuộc thi «{title}», nhưng bạn chưa cho biết xã, phường nên chưa "
    "tính cho xã nào. Gõ “đổi xã” để cho biết nhé."
)
QUIZ_CONTEST_ALREADY = "Hôm nay bạn đã có một lượt được tính cho cuộc thi «{title}». Lượt này để luyện tập thêm."

# /dulieu: the citizen's contest rounds (bot.contests), shown only when there are some
MY_DATA_QUIZ = "• Lượt thi đố vui được tính trong cuộc thi: {rounds} lượt (điểm, ngày chơi và xã, phường lúc chơi)."

# The web chat (bot.channels.web): bulletins are not sent there, and "xóa dữ liệu của tôi" answered
# by typing or after its question expired. A web session only sees a message when the citizen
# opens the page again in the same browser, with no notification: bulletins go through Telegram and Zalo.
WEB_NO_BULLETINS = (
    "Bản tin của Trợ lý số (cảnh báo lừa đảo, tin của tỉnh) được gửi qua Telegram và Zalo, không gửi vào "
    "khung trò chuyện trên trang web này, nên ở đây không có gì để đăng ký hay hủy. Muốn nhận bản tin, "
    "bạn nhắn “đăng ký nhận tin” cho Trợ lý số trên Telegram hoặc Zalo; muốn dừng, nhắn “dừng nhận tin” ở đó."
)
WEB_MY_DATA_MESSAGES = "• Tin nhắn của tổ công nghệ số cộng đồng đang lưu cho cuộc trò chuyện này: {n} tin."
WEB_ERASE_EXPIRED = "Yêu cầu xóa dữ liệu đã hết hạn nên tôi chưa xóa gì. Muốn xóa, bạn gõ lại “xóa dữ liệu của tôi”."
ERASE_NO_WORDS = ("không", "khong", "ko", "không xóa", "không xoá", "khong xoa", "thôi", "thoi", "giữ lại", "giu lai")
WEB_ERASE_ALSO = "Cuộc trò chuyện này cũng bị xóa, trên máy chủ và trên máy của bạn."
