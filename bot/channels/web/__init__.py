"""Web chat: a widget any portal embeds with one tag, the JSON API it talks to, and its sender."""
