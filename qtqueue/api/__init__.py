"""The local control API: JSON actions, served over HTTP on a Unix socket, and its client.

Where a running engine announces itself, relative to its data directory; shared by the
server (`qtqueue.api.server`) and its clients (`qtqueue.api.client` over aiohttp for the
window, `qtqueue.api.light_client` in the standard library for the command line) without
either side importing the other. Importing this package imports nothing else.
"""

#: `{"pid", "unix"}` or `{"pid", "host", "port", "token"}`, mode 0600, while an engine serves.
ENGINE_FILE = "engine.json"
#: The Unix socket the API listens on.
SOCKET_NAME = "api.sock"
