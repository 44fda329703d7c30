"""Settings: one typed model of the TOML file and the RECORDER_* variables (model.py), a module per table,
read once at start-up (settings.py) and passed in."""
