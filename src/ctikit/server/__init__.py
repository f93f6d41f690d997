"""The I/O layer around the core: aiohttp app, WebSocket hub, REST API, static files."""
