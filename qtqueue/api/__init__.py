"""The local control API: JSON actions, served over HTTP on a Unix socket, and its client."""
