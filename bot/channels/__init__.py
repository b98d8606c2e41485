"""Chat channels over the Assistant: Telegram and Zalo (see docs/channels.md)."""
