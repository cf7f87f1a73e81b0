"""The statistics tab's parts: chart helpers with tooltips and clicks (`charts`), and what a
click on a chart does to the task list (`links`)."""

from __future__ import annotations
