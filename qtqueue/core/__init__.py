"""Plain data: tasks, statuses, priorities, the error catalog. No IO, no Qt."""
