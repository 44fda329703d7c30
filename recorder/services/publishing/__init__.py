"""The events this service publishes: the event log written with each decision, and its publisher."""
