"""The live shell: websocket server for CTI ingest, agent sidebars and the supervisor view."""
