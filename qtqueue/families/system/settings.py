"""The system family's settings: where the SQLite-queue document's project data lives."""

from __future__ import annotations

import logging

from pydantic import BaseModel, ConfigDict, Field

logger = logging.getLogger(__name__)

__all__ = ["SystemSettings"]


class SystemSettings(BaseModel):
    """Settings the system tasks (and the `cleanup_old_data` handler) read at run time."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    system_projects_root: str = Field(
        default="",
        title="Projects root",
        description="The folder holding one folder per project, whose old files "
        "cleanup_old_data {project_id, days_old} deletes (empty: <data dir>/projects)",
    )
