"""The parts `MainWindow.compose()` builds the window from, over the engine.

Imported only once the window's frame shows (`qtqueue.launch`): between them they import the
engine's port, pydantic and the window's every screen, which is what a first paint should not
wait for.
"""

from __future__ import annotations

import logging

from qtqueue.ui.app_settings import AppSettings
from qtqueue.ui.closing import CloseGuard
from qtqueue.ui.cluster_settings import install_open_cluster
from qtqueue.ui.detail_pane import DetailPane
from qtqueue.ui.engine_bridge import BackgroundTasks
from qtqueue.ui.import_export import install_data
from qtqueue.ui.paramform.form import form_editors
from qtqueue.ui.questions_view import QuestionsView
from qtqueue.ui.queue_order import QueueOrderActions
from qtqueue.ui.task_actions import TaskActions
from qtqueue.ui.task_list.delegate import ProgressDelegate
from qtqueue.ui.task_list.filters import TaskFilters
from qtqueue.ui.task_list.model import TaskTableModel
from qtqueue.ui.task_list.proxy import TaskFilterProxy
from qtqueue.ui.task_list.sidebar import SideBar
from qtqueue.ui.task_list.table_setup import SelectedTasks
from qtqueue.ui.tray import TaskNotifier
from qtqueue.ui.window_dialogs import WindowDialogs
from qtqueue.ui.window_state import install_detail_pane

logger = logging.getLogger(__name__)

__all__ = [
    "AppSettings",
    "BackgroundTasks",
    "CloseGuard",
    "DetailPane",
    "ProgressDelegate",
    "QuestionsView",
    "QueueOrderActions",
    "SelectedTasks",
    "SideBar",
    "TaskActions",
    "TaskFilterProxy",
    "TaskFilters",
    "TaskNotifier",
    "TaskTableModel",
    "WindowDialogs",
    "form_editors",
    "install_data",
    "install_detail_pane",
    "install_open_cluster",
]
