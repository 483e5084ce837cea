"""The live shell: websocket server for CTI ingest, agent sidebars and the supervisor view."""

# Defaults of ServerConfig, here so that `assist --help` can show them without loading the config model.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
