"""Telegram: the sender (outbound path), the citizens' channel and the review handlers."""
