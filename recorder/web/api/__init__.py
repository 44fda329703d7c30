"""The JSON API: API-key and Entra ID auth, roles, ledger, compliance, recordings, tokens, OpenAPI."""
