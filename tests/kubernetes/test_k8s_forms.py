"""The New task dialog offers every Kubernetes type with a form built from its params model,
and a filled deploy form gives the params the executor validates."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox
from pytestqt.qtbot import QtBot

from qtqueue.core.task import TaskType
from qtqueue.executors import default_registry
from qtqueue.families.kubernetes import family
from qtqueue.ui.new_task_dialog import NewTaskDialog
from qtqueue.ui.paramform.form import TaskForm


def test_every_kubernetes_type_has_its_form_and_a_deploy_form_gives_valid_params(
    qtbot: QtBot,
) -> None:
    registry = default_registry(entry_points=False)
    dialog = NewTaskDialog(registry)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    picker = dialog.findChild(QComboBox, "taskTypePicker")
    kubernetes = [e.name for e in family.executors()]
    assert {TaskType.K8S_DEPLOY, TaskType.K8S_SCALE, TaskType.K8S_DELETE, TaskType.K8S_GET} <= set(
        kubernetes
    )
    for name in kubernetes:
        picker.setCurrentIndex(picker.findData(name, Qt.ItemDataRole.UserRole + 1))
        qtbot.waitUntil(lambda: dialog.findChild(TaskForm, "taskForm") is not None)
        form = dialog.findChild(TaskForm, "taskForm")
        schema = registry.get(name).schema()
        assert set(schema["properties"]) == set(form.field_names()), name
        assert {"namespace", "kubeconfig", "context", "token_credential"} <= set(form.field_names())

    picker.setCurrentIndex(picker.findData("k8s_deploy", Qt.ItemDataRole.UserRole + 1))
    qtbot.waitUntil(lambda: "image" in dialog.findChild(TaskForm, "taskForm").field_names())
    form = dialog.findChild(TaskForm, "taskForm")
    form.set_values({"name": "web", "image": "nginx:1.27", "replicas": 2})
    params = registry.get("k8s_deploy").validate(form.values())
    assert (params["name"], params["image"], params["replicas"]) == ("web", "nginx:1.27", 2)
    assert params["wait"] is True and params["mode"] == "apply"
