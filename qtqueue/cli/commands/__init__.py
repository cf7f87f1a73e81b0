"""The commands of `qtqueue`, one module each (`qtqueue.cli.parser` says what a module holds).

Only `run` imports the engine; every other command reaches the queue through the backend
it is handed, so that it starts fast when an engine runs (`tests/test_architecture.py`).
"""
