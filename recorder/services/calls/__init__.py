"""Calls: the consent flow per event, the outbox dispatcher, reconciliation, recording on request."""
