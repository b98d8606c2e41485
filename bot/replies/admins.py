"""What the assistant says to admins: the command line and reload notices."""

from __future__ import annotations

# Command line
NO_CHANNEL_TOKEN_CHAT = (
    "Không có token kênh nào (TROLYSO_TELEGRAM_TOKEN, TROLYSO_ZALO_TOKEN): mở trò chuyện trên console."
)
