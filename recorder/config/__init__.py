"""Settings: read once at start-up from the environment and an optional TOML file, one module per section."""
