"""Persistence: the `TaskStore` contract and its embedded SQLite implementation."""

from qtqueue.storage.base import TaskFilter, TaskStore, Transition, WriteBatch
from qtqueue.storage.sqlite import SqliteTaskStore

__all__ = ["SqliteTaskStore", "TaskFilter", "TaskStore", "Transition", "WriteBatch"]
