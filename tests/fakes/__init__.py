"""Fake chat-platform APIs: real HTTP servers on 127.0.0.1 speaking the providers' wire formats."""
