"""Recordings into region-pinned Blob storage: intake, transfer, registration, retention, holds."""
