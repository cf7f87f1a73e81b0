"""The local control API: JSON actions, served over HTTP on a Unix socket, and its client.

Where a running engine announces itself, relative to its data directory; shared by the
server (`qtqueue.api.server`) and the client (`qtqueue.api.client`) without either importing
the other.
"""

#: `{"pid", "unix"}` or `{"pid", "host", "port", "token"}`, mode 0600, while an engine serves.
ENGINE_FILE = "engine.json"
#: The Unix socket the API listens on.
SOCKET_NAME = "api.sock"
