"""Zalo Bot Platform: the API client, the sender (outbound path) and the citizens' channel."""
