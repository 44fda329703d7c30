"""The audit chain (sealing, anchoring), legal holds and erasure."""
