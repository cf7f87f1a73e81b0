"""The detail pane's Vast.ai widget: a create's log, chunk by chunk, becomes the instance, its
phase, its price and its GPU; other task types are not its business."""

from __future__ import annotations

import os

import pytest

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before anything imports Qt (as tests/ui does)
pytest.importorskip("PySide6", reason="the window's extra (qtqueue[gui]) is not installed")
pytest.importorskip("pytestqt", reason="pytest-qt (qtqueue[test-gui]) is not installed")

from pytestqt.qtbot import QtBot

from qtqueue.core.task import Task, TaskType
from qtqueue.families.vast.qt import detail_widget

LOG = (
    "price: offer 101, 1x RTX 4090, costs $0.4500/hour with 20 GB disk (limit $2.0000/hour)\n"
    "created instance 5000 from offer 101\n"
    "instance 5000: loading image (Pulling image busybox)\n"
)


def test_the_instance_widget_shows_phase_price_and_gpu(qtbot: QtBot) -> None:
    view = detail_widget()
    qtbot.addWidget(view)
    assert view.shows(Task(TaskType.VAST_CREATE, {"image": "busybox"}))
    assert not view.shows(Task(TaskType.VAST_SEARCH, {}))

    with qtbot.waitSignal(view.updated) as signal:
        view.feed("t1", LOG[:70])  # the price line is not complete yet
        view.feed("t1", LOG[70:])
    assert signal.args == ["t1"]
    shown = {key: label.text() for key, label in view.labels.items()}
    assert shown == {
        "instance": "5000",
        "phase": "loading image",
        "price": "$0.4500 per hour",
        "gpu": "1x RTX 4090",
    }
    view.reset()
    assert view.labels["price"].text() == "—"


def test_a_create_form_opens_with_the_image_offer_and_disk(qtbot: QtBot) -> None:
    """What a rent needs is at the top of the New task form; the offer filters and how the
    instance starts come after."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QComboBox

    from qtqueue.executors import default_registry
    from qtqueue.ui.new_task_dialog import NewTaskDialog
    from qtqueue.ui.paramform.form import TaskForm

    dialog = NewTaskDialog(default_registry(entry_points=False))
    qtbot.addWidget(dialog)
    picker = dialog.findChild(QComboBox, "taskTypePicker")
    picker.setCurrentIndex(picker.findData("vast_create", Qt.ItemDataRole.UserRole + 1))
    qtbot.waitUntil(lambda: "image" in dialog.findChild(TaskForm, "taskForm").field_names())
    names = dialog.findChild(TaskForm, "taskForm").field_names()
    assert names[:3] == ["image", "offer_id", "disk_gb"]
    assert names.index("gpu_name") < names.index("env")
