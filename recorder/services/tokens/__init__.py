"""Credentials this service hands out: ACS user tokens, API keys, console sessions."""
