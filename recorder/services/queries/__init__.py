"""Read models: the ledger, call timelines, search, exports and evidence, where recordings landed."""
