"""The settings dialog: concurrency, category limits, retention, notifications, log cap,
close-to-tray, the shutdown policy, which task actions ask first, and one page per family
settings model (generated from the model by the task form builder).

It edits an `AppConfig`: filled from the live queue and the window's preferences, checked
inline (OK stays disabled while a value is refused, and the reason is shown beside it). On OK
the engine's settings are applied to the running engine at once and saved in its store (where
`qtqueue run` and the CLI read them too; `saving` is that write), and the window's preferences
in `QSettings`.
"""

from __future__ import annotations

import asyncio
import functools
import logging

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from qtqueue.engine.queue import ShutdownPolicy, TaskQueue
from qtqueue.settings import FAMILY_SETTINGS, checked, save_settings
from qtqueue.ui.app_settings import AppConfig, AppSettings, NotificationMode, apply_config
from qtqueue.ui.engine_bridge import BackgroundTasks
from qtqueue.ui.paramform.form import TaskForm

logger = logging.getLogger(__name__)

NOTIFICATION_LABELS: dict[NotificationMode, str] = {
    NotificationMode.ALL: "Failed and completed tasks",
    NotificationMode.FAILURES: "Failed tasks only",
    NotificationMode.NONE: "None",
}
POLICY_LABELS: dict[ShutdownPolicy, str] = {
    ShutdownPolicy.REQUEUE: "Stop them and run them again at the next start",
    ShutdownPolicy.WAIT: "Wait until they finish",
    ShutdownPolicy.CANCEL: "Cancel them",
}
_STYLE = "QLabel#settingsError { color: #c62828; }"


class SettingsDialog(QDialog):
    """Edit the application settings; OK saves them and applies them to `queue` live."""

    def __init__(
        self, queue: TaskQueue, settings: AppSettings, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("settingsDialog")
        self.setWindowTitle("Settings")
        self.setStyleSheet(_STYLE)
        self.queue = queue
        self.settings = settings
        #: The write of the engine's settings into the store that OK started (None before).
        self.saving: asyncio.Task[None] | None = None
        self._background = BackgroundTasks()
        #: Each family's generated settings form, by family name.
        self.familyForms: dict[str, TaskForm] = {}
        self._build()
        self.set_config(settings.config_for(queue))
        self._validate()

    # ------------------------------------------------------------------ layout

    def _build(self) -> None:
        form = QFormLayout()
        self.maxConcurrent = QSpinBox(self)
        self.maxConcurrent.setObjectName("settingMaxConcurrent")
        self.maxConcurrent.setRange(0, 1024)  # 0 is refused inline, not silently clamped
        self.maxConcurrent.setToolTip("How many tasks run at the same time")
        form.addRow("&Tasks at once:", self.maxConcurrent)

        self.categoryLimits = QTableWidget(0, 2, self)
        self.categoryLimits.setObjectName("settingCategoryLimits")
        self.categoryLimits.setHorizontalHeaderLabels(["Category", "At most"])
        self.categoryLimits.horizontalHeader().setSectionResizeMode(
            0, QHeaderView.ResizeMode.Stretch
        )
        self.categoryLimits.verticalHeader().setVisible(False)
        self.categoryLimits.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.categoryLimits.setMinimumHeight(110)
        self.categoryLimits.setMaximumHeight(160)
        self.categoryLimits.itemChanged.connect(self._validate)
        add = QPushButton("&Add", self)
        add.setObjectName("addCategoryLimit")
        add.clicked.connect(self._add_empty_row)
        remove = QPushButton("Re&move", self)
        remove.setObjectName("removeCategoryLimit")
        remove.clicked.connect(self._remove_rows)
        buttons = QVBoxLayout()
        buttons.addWidget(add)
        buttons.addWidget(remove)
        buttons.addStretch(1)
        limits = QHBoxLayout()
        limits.addWidget(self.categoryLimits, 1)
        limits.addLayout(buttons)
        limits_label = QLabel("Per &category:", self)
        limits_label.setBuddy(self.categoryLimits)
        form.addRow(limits_label, limits)

        self.retentionDays = QDoubleSpinBox(self)
        self.retentionDays.setObjectName("settingRetentionDays")
        self.retentionDays.setRange(0, 3650)
        self.retentionDays.setDecimals(1)
        self.retentionDays.setSuffix(" days")
        self.retentionDays.setSpecialValueText("Keep for ever")
        self.retentionDays.setToolTip("Finished tasks and their logs are deleted after this long")
        form.addRow("&Keep finished tasks:", self.retentionDays)

        self.notifications = QComboBox(self)
        self.notifications.setObjectName("settingNotifications")
        for mode, label in NOTIFICATION_LABELS.items():
            self.notifications.addItem(label, mode.value)
        form.addRow("&Notifications:", self.notifications)

        self.logCapMb = QSpinBox(self)
        self.logCapMb.setObjectName("settingLogCapMb")
        self.logCapMb.setRange(0, 10240)
        self.logCapMb.setSuffix(" MiB")
        self.logCapMb.setToolTip("Each task's log keeps at most this much (the newest part)")
        form.addRow("&Log size per task:", self.logCapMb)

        self.closeToTray = QCheckBox("Closing the window keeps qtqueue running in the tray", self)
        self.closeToTray.setObjectName("settingCloseToTray")
        form.addRow("", self.closeToTray)

        self.confirmCancel = QCheckBox("Ask before cancelling tasks", self)
        self.confirmCancel.setObjectName("settingConfirmCancel")
        self.confirmRemove = QCheckBox("Ask before removing tasks", self)
        self.confirmRemove.setObjectName("settingConfirmRemove")
        for box in (self.confirmCancel, self.confirmRemove):
            box.setToolTip("Turns back on what “Don't ask again” turned off")
        confirm = QVBoxLayout()
        confirm.addWidget(self.confirmCancel)
        confirm.addWidget(self.confirmRemove)
        form.addRow("Confirm:", confirm)

        self.shutdownPolicy = QComboBox(self)
        self.shutdownPolicy.setObjectName("settingShutdownPolicy")
        for policy, label in POLICY_LABELS.items():
            self.shutdownPolicy.addItem(label, policy.value)
        form.addRow("On &quit, running tasks:", self.shutdownPolicy)

        self.error = QLabel(self)
        self.error.setObjectName("settingsError")
        self.error.setWordWrap(True)
        self.error.hide()

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        for name, page in self._family_pages().items():
            layout.addWidget(page)
            self.familyForms[name].changed.connect(self._validate)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.maxConcurrent.valueChanged.connect(self._validate)
        self.retentionDays.valueChanged.connect(self._validate)
        self.logCapMb.valueChanged.connect(self._validate)
        self.resize(560, self.sizeHint().height())

    def _family_pages(self) -> dict[str, QGroupBox]:
        """One page per family settings model, generated from the model by the task form
        builder and checked by the model; `familyForms` holds their forms."""
        pages: dict[str, QGroupBox] = {}
        for name, model in sorted(FAMILY_SETTINGS.items()):
            family_form = TaskForm(
                model.model_json_schema(),
                functools.partial(checked, model),
                parent=self,
            )
            family_form.setObjectName(f"{name}Settings")
            self.familyForms[name] = family_form
            page = QGroupBox(name.title(), self)  # TODO: the Family descriptor's title
            page.setObjectName(f"{name}SettingsPage")
            QVBoxLayout(page).addWidget(family_form)
            pages[name] = page
        return pages

    # ------------------------------------------------------------------ values

    def set_config(self, config: AppConfig) -> None:
        """Show `config` in the fields."""
        self.maxConcurrent.setValue(config.max_concurrent)
        self.categoryLimits.blockSignals(True)
        self.categoryLimits.setRowCount(0)
        for category, limit in sorted(config.category_limits.items()):
            self._add_row(category, limit)
        self.categoryLimits.blockSignals(False)
        self.retentionDays.setValue(config.retention_days)
        self.notifications.setCurrentIndex(self.notifications.findData(config.notifications.value))
        self.logCapMb.setValue(config.log_cap_mb)
        self.closeToTray.setChecked(config.close_to_tray)
        self.confirmCancel.setChecked(config.confirm_cancel)
        self.confirmRemove.setChecked(config.confirm_remove)
        for name, family_form in self.familyForms.items():
            family_form.set_values(config.families.get(name, {}))
        self.shutdownPolicy.setCurrentIndex(
            self.shutdownPolicy.findData(config.shutdown_policy.value)
        )
        self._validate()

    def _limits(self) -> tuple[dict[str, int], str | None]:
        """The category limits in the table, or a reason they cannot be used."""
        limits: dict[str, int] = {}
        table = self.categoryLimits
        for row in range(table.rowCount()):
            name_item, limit_item = table.item(row, 0), table.item(row, 1)
            name = (name_item.text() if name_item else "").strip()
            text = (limit_item.text() if limit_item else "").strip()
            if not name and not text:
                continue  # an empty new row
            if not name:
                return limits, f"row {row + 1}: the category needs a name"
            if name in limits:
                return limits, f"the category {name!r} is listed twice"
            try:
                limit = int(text)
            except ValueError:
                return limits, f"{name}: the limit must be a whole number"
            if limit < 1:
                return limits, f"{name}: the limit must be at least 1"
            limits[name] = limit
        return limits, None

    def config(self) -> AppConfig:
        """The settings as the fields show them (check `problems()` first)."""
        limits, _ = self._limits()
        return AppConfig(
            max_concurrent=self.maxConcurrent.value(),
            category_limits=limits,
            retention_days=self.retentionDays.value(),
            notifications=NotificationMode(self.notifications.currentData()),
            log_cap_mb=self.logCapMb.value(),
            close_to_tray=self.closeToTray.isChecked(),
            shutdown_policy=ShutdownPolicy(self.shutdownPolicy.currentData()),
            families={name: f.values() for name, f in self.familyForms.items()},
            confirm_cancel=self.confirmCancel.isChecked(),
            confirm_remove=self.confirmRemove.isChecked(),
        )

    def problems(self) -> list[str]:
        """Why the fields cannot be saved as they are (empty: they can)."""
        _, limit_problem = self._limits()
        labels = {
            "max_concurrent": "Tasks at once",
            "retention_days": "Keep finished tasks",
            "log_cap_mb": "Log size per task",
        }
        found = [f"{labels[k]}: {v}" for k, v in self.config().validate().items() if k in labels]
        if limit_problem:
            found.append(f"Per category: {limit_problem}")
        for family_form in self.familyForms.values():
            found.extend(
                f"{family_form.spec(k).label if k else 'Settings'}: {v}"
                for k, v in family_form.problems().items()
            )
        return found

    @Slot()
    def _validate(self, *_args: object) -> None:
        problems = self.problems()
        self.error.setText("\n".join(problems))
        self.error.setVisible(bool(problems))
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(not problems)
        ok.setToolTip("Correct the values shown in red first" if problems else "")

    def _add_row(self, category: str = "", limit: int | None = None) -> None:
        table = self.categoryLimits
        row = table.rowCount()
        table.insertRow(row)
        table.setItem(row, 0, QTableWidgetItem(category))
        item = QTableWidgetItem("" if limit is None else str(limit))
        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        table.setItem(row, 1, item)

    def _add_empty_row(self) -> None:
        self._add_row()
        table = self.categoryLimits
        row = table.rowCount() - 1
        table.setCurrentCell(row, 0)
        if (item := table.item(row, 0)) is not None:
            table.editItem(item)

    def _remove_rows(self) -> None:
        table = self.categoryLimits
        for row in sorted({i.row() for i in table.selectedIndexes()}, reverse=True):
            table.removeRow(row)
        self._validate()

    # ------------------------------------------------------------------ OK

    def accept(self) -> None:
        """Save and apply, or stay open while a value is refused."""
        if self.problems():
            self._validate()
            return
        config = self.config()
        self.settings.save(config)
        apply_config(self.queue, config)
        self.saving = self._background.spawn(
            save_settings(self.queue.store, config.engine_settings()), "save settings"
        )
        logger.info("settings applied (and being saved): %s", config)
        super().accept()
