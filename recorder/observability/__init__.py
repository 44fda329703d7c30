"""Logs, metrics and the crash points the crash-safety tests inject faults at."""
