"""The settings dialog: one page generated from `EngineSettings` (tasks at once, category
limits, retention, log cap, what running tasks do at quit), the window's own preferences
(notifications, close-to-tray, which task actions ask first), its appearance (theme and font
size, applied to the whole application on OK), and one page per family that
has a settings model, titled by its `Family.title`. Every generated page is the task form
builder's (`TaskForm`) over the model's JSON schema, checked by the model itself; the category
limits get a table editor of their own (`CategoryLimitsEditor`, registered for the fields
whose schema asks for it with `widget: category_limits`).

It edits an `AppConfig`: filled from the live queue and the window's preferences, checked
inline (OK stays disabled while a value is refused, and the reason is shown beside it). On OK
the engine's settings the user changed (only those: a value shown rounded and left alone keeps
its exact value) are applied to the running engine at once and saved in its store (where
`qtqueue run` and the CLI read them too; `saving` is that write), and the window's preferences
in `QSettings`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any

from pydantic import BaseModel
from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHeaderView,
    QLabel,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from qtqueue.api.port import EnginePort, EngineSettingsPort
from qtqueue.core.errors import QueueError
from qtqueue.core.param_schema import FieldSpec
from qtqueue.engine.runner import ShutdownPolicy
from qtqueue.settings import (
    WEB_API_FIELDS,
    EngineSettings,
    Settings,
    checked,
    family_settings,
)
from qtqueue.ui.app_settings import AppConfig, AppSettings, NotificationMode
from qtqueue.ui.cluster_settings import ClusterPage
from qtqueue.ui.engine_bridge import BackgroundTasks
from qtqueue.ui.family_widgets import family_editors
from qtqueue.ui.paramform.editors import EditorContext, EditorRegistry, RowsEditor
from qtqueue.ui.paramform.form import TaskForm, form_editors
from qtqueue.ui.theme import (
    MAX_FONT_PT,
    MIN_FONT_PT,
    THEME_LABELS,
    ThemeMode,
    apply_appearance,
    themed,
)

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
#: The schema's `widget` hint that asks for the category limits table.
CATEGORY_LIMITS_WIDGET = "category_limits"
#: The most decimals the retention field shows (0.000001 day: well under a second).
MAX_RETENTION_DECIMALS = 6


def retention_decimals(days: float) -> int:
    """The decimals (at least one) that show `days` exactly, up to `MAX_RETENTION_DECIMALS`,
    so that a saved 0.04 reads 0.04, not 0.0 ("Keep for ever")."""
    for decimals in range(1, MAX_RETENTION_DECIMALS):
        if abs(round(days, decimals) - days) < 1e-9:
            return decimals
    return MAX_RETENTION_DECIMALS


class CategoryLimitsEditor(RowsEditor):
    """Category → at most this many of its tasks at once: a table of category and limit whose
    rows are checked as they are typed (a name, a whole number, at least 1, no category twice)."""

    def __init__(self, spec: FieldSpec) -> None:
        super().__init__(spec)
        table = self.table
        table.setObjectName("settingCategoryLimits")
        table.setHorizontalHeaderLabels(["Category", "At most"])
        table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        table.setMinimumHeight(96)
        table.setMaximumHeight(140)
        self.add_button.setObjectName("addCategoryLimit")
        self.add_button.setToolTip("Add a category limit")
        self.remove_button.setObjectName("removeCategoryLimit")

    def limits(self) -> tuple[dict[str, int], str | None]:
        """The limits in the table, or a reason they cannot be used."""
        limits: dict[str, int] = {}
        for row in range(self.table.rowCount()):
            name, text = self._cell(row, 0).strip(), self._cell(row, 1).strip()
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

    def value(self) -> Any:
        return self.limits()[0]

    def local_error(self) -> str | None:
        return self.limits()[1]

    def set_value(self, value: Any) -> None:
        super().set_value(dict(sorted(value.items())) if isinstance(value, dict) else value)
        for row in range(self.table.rowCount()):
            if (item := self.table.item(row, 1)) is not None:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)


def _category_limits_editor(spec: FieldSpec, _context: EditorContext) -> CategoryLimitsEditor:
    return CategoryLimitsEditor(spec)


def settings_editors(base: EditorRegistry | None = None) -> EditorRegistry:
    """A new registry of the settings forms' editors: those of `base` (the window's; by
    default `form_editors()`), and the category limits' table."""
    registry = base.copy() if base is not None else form_editors()
    registry.add(
        lambda spec: spec.schema.get("widget") == CATEGORY_LIMITS_WIDGET, _category_limits_editor
    )
    return registry


def settings_form(
    model: type[BaseModel],
    parent: QWidget | None = None,
    editors: EditorRegistry | None = None,
) -> TaskForm:
    """The form of a settings model, generated from its schema and checked by it, with
    `editors` (by default `settings_editors()`)."""
    return TaskForm(
        model.model_json_schema(),
        functools.partial(checked, model),
        editors=editors if editors is not None else settings_editors(),
        parent=parent,
    )


class SettingsDialog(QDialog):
    """Edit the application settings; OK saves them and applies them to `queue` live."""

    def __init__(
        self,
        queue: EnginePort,
        engine_settings: EngineSettingsPort,
        settings: AppSettings,
        parent: QWidget | None = None,
        editors: EditorRegistry | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("settingsDialog")
        #: The settings forms' editors (the window's, `editors`, and the category limits'); a
        #: family's own are added for its page only.
        self.editors = settings_editors(editors)
        self.setWindowTitle("Settings")
        self.setStyleSheet(themed(_STYLE))
        self.queue = queue
        #: The engine's settings: read live, changed, saved (in process or attached).
        self.engine_settings = engine_settings
        self.settings = settings
        #: The write of the engine's settings into the store that OK started (None before).
        self.saving: asyncio.Task[None] | None = None
        self._background = BackgroundTasks()
        #: Each family's settings model, by family name (those of the queue's registry).
        self.familyModels = family_settings(queue.registry)
        #: Each family's generated settings form, by family name.
        self.familyForms: dict[str, TaskForm] = {}
        #: The settings as the fields read them right after `set_config` (a value can show
        #: rounded): OK changes only the fields whose reading differs from it.
        self._shown = AppConfig()
        self._build()
        self.set_config(settings.config_for(engine_settings.current(), self.familyModels))
        self._validate()

    # ------------------------------------------------------------------ layout

    def _build(self) -> None:
        # The pages scroll (there is one per family with settings), the verdict and the
        # buttons stay in view.
        pages = QWidget(self)
        pages.setObjectName("settingsPages")
        column = QVBoxLayout(pages)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self._engine_page())
        column.addWidget(self._window_page())
        column.addWidget(self._appearance_page())
        self.clusterPage = ClusterPage(self.settings, self)
        column.addWidget(self.clusterPage)
        self.clusterPage.url.textChanged.connect(self._validate)
        self.clusterPage.caFile.textChanged.connect(self._validate)
        for page in self._family_pages():
            column.addWidget(page)
        column.addStretch(1)
        scroll = QScrollArea(self)
        scroll.setObjectName("settingsScroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(pages)
        layout = QVBoxLayout(self)
        layout.addWidget(scroll, 1)

        self.error = QLabel(self)
        self.error.setObjectName("settingsError")
        self.error.setWordWrap(True)
        self.error.hide()
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        # As tall as the pages, the buttons and a few lines of reasons need, up to most of
        # the screen.
        margins = layout.contentsMargins().top() + layout.contentsMargins().bottom()
        reasons = 3 * self.error.fontMetrics().lineSpacing() + 2 * layout.spacing()
        wanted = pages.sizeHint().height() + self.buttons.sizeHint().height() + margins + reasons
        screen = self.screen().availableGeometry().height() if self.screen() else wanted
        self.resize(600, min(wanted, int(screen * 0.9)))

    def _engine_page(self) -> QGroupBox:
        """`EngineSettings`, generated; its widgets keep the names the window always gave
        them (`settingMaxConcurrent`…), and get the words a generated editor cannot guess
        (the policies' descriptions, "Keep for ever" for 0 days)."""
        page = QGroupBox("Engine", self)
        page.setObjectName("engineSettingsPage")
        self.engineForm = settings_form(EngineSettings, page, self.editors)
        self.engineForm.setObjectName("engineSettings")
        self.engineForm.changed.connect(self._validate)
        QVBoxLayout(page).addWidget(self.engineForm)

        def widget(name: str, object_name: str) -> Any:
            found = self.engineForm.input_widget(name)
            found.setObjectName(object_name)
            return found

        self.maxConcurrent: QSpinBox = widget("max_concurrent", "settingMaxConcurrent")
        self.retentionDays: QDoubleSpinBox = widget("retention_days", "settingRetentionDays")
        self.retentionDays.setDecimals(1)
        self.retentionDays.setSpecialValueText("Keep for ever")
        self.logCapMb: QSpinBox = widget("log_cap_mb", "settingLogCapMb")
        self.logCapMb.setSuffix("")  # the label says MiB (the field name's unit reads "MB")
        self.shutdownPolicy: QComboBox = widget("shutdown_policy", "settingShutdownPolicy")
        for index in range(self.shutdownPolicy.count()):
            policy = ShutdownPolicy(self.shutdownPolicy.itemData(index))
            self.shutdownPolicy.setItemText(index, POLICY_LABELS.get(policy, policy.value))
        self.categoryLimits = widget("category_limits", "settingCategoryLimits")
        return page

    def _window_page(self) -> QGroupBox:
        """The window's own preferences (kept in `QSettings`, not in the store)."""
        page = QGroupBox("This window", self)
        page.setObjectName("windowSettingsPage")
        form = QFormLayout(page)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.notifications = QComboBox(page)
        self.notifications.setObjectName("settingNotifications")
        for mode, label in NOTIFICATION_LABELS.items():
            self.notifications.addItem(label, mode.value)
        form.addRow("&Notifications", self.notifications)
        self.closeToTray = QCheckBox("Closing the window keeps qtqueue running in the tray", page)
        self.closeToTray.setObjectName("settingCloseToTray")
        form.addRow("", self.closeToTray)
        self.confirmCancel = QCheckBox("Ask before cancelling tasks", page)
        self.confirmCancel.setObjectName("settingConfirmCancel")
        self.confirmRemove = QCheckBox("Ask before removing tasks", page)
        self.confirmRemove.setObjectName("settingConfirmRemove")
        for box in (self.confirmCancel, self.confirmRemove):
            box.setToolTip("Turns back on what “Don't ask again” turned off")
        confirm = QVBoxLayout()
        confirm.addWidget(self.confirmCancel)
        confirm.addWidget(self.confirmRemove)
        form.addRow("Confirm", confirm)
        return page

    def _appearance_page(self) -> QGroupBox:
        """The theme and the font size (kept in `QSettings`; OK applies them everywhere)."""
        page = QGroupBox("Appearance", self)
        page.setObjectName("appearanceSettingsPage")
        form = QFormLayout(page)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.theme = QComboBox(page)
        self.theme.setObjectName("settingTheme")
        for mode, label in THEME_LABELS.items():
            self.theme.addItem(label, mode.value)
        self.theme.setToolTip(
            "Follow the system: dark when the desktop is dark, and switch when it does"
        )
        form.addRow("&Theme", self.theme)
        self.fontSize = QSpinBox(page)
        self.fontSize.setObjectName("settingFontSize")
        # One below the smallest size stands for the system's font size.
        self.fontSize.setRange(MIN_FONT_PT - 1, MAX_FONT_PT)
        self.fontSize.setSpecialValueText("System default")
        self.fontSize.setSuffix(" pt")
        form.addRow("&Font size", self.fontSize)
        return page

    def _family_pages(self) -> list[QGroupBox]:
        """One page per family with a settings model, titled by its `Family.title`, generated
        from the model and checked by it; `familyForms` holds their forms."""
        pages: list[QGroupBox] = []
        for name, model in self.familyModels.items():
            family = self.queue.registry.family(name)
            page = QGroupBox(family.title if family is not None else name, self)
            page.setObjectName(f"{name}SettingsPage")
            family_form = settings_form(model, page, family_editors(family, self.editors))
            family_form.setObjectName(f"{name}Settings")
            family_form.changed.connect(self._validate)
            QVBoxLayout(page).addWidget(family_form)
            self.familyForms[name] = family_form
            pages.append(page)
        return pages

    # ------------------------------------------------------------------ values

    def set_config(self, config: AppConfig) -> None:
        """Show `config` in the fields; OK then changes only the fields edited after this."""
        self.retentionDays.setDecimals(retention_decimals(config.retention_days))
        self.engineForm.set_values(
            {
                "max_concurrent": config.max_concurrent,
                "category_limits": config.category_limits,
                "retention_days": config.retention_days,
                "log_cap_mb": config.log_cap_mb,
                "shutdown_policy": config.shutdown_policy.value,
                **{name: getattr(config, name) for name in sorted(WEB_API_FIELDS)},
            }
        )
        self.notifications.setCurrentIndex(self.notifications.findData(config.notifications.value))
        self.closeToTray.setChecked(config.close_to_tray)
        self.confirmCancel.setChecked(config.confirm_cancel)
        self.confirmRemove.setChecked(config.confirm_remove)
        self.theme.setCurrentIndex(self.theme.findData(config.theme.value))
        self.fontSize.setValue(config.font_size or self.fontSize.minimum())
        for name, family_form in self.familyForms.items():
            family_form.set_values(config.families.get(name, {}))
        self._shown = self.config()
        self._validate()

    def config(self) -> AppConfig:
        """The settings as the fields show them (check `problems()` first)."""
        engine = self.engineForm.values()
        return AppConfig(
            max_concurrent=int(engine["max_concurrent"]),
            category_limits=dict(engine["category_limits"]),
            retention_days=float(engine["retention_days"]),
            notifications=NotificationMode(self.notifications.currentData()),
            log_cap_mb=int(engine["log_cap_mb"]),
            close_to_tray=self.closeToTray.isChecked(),
            shutdown_policy=ShutdownPolicy(engine["shutdown_policy"]),
            http_address=str(engine["http_address"]).strip(),
            http_tls_cert=str(engine["http_tls_cert"]).strip(),
            http_tls_keyfile=str(engine["http_tls_keyfile"]).strip(),
            families={name: f.values() for name, f in self.familyForms.items()},
            confirm_cancel=self.confirmCancel.isChecked(),
            confirm_remove=self.confirmRemove.isChecked(),
            theme=ThemeMode(self.theme.currentData()),
            font_size=0 if self.fontSize.value() < MIN_FONT_PT else self.fontSize.value(),
            family_models=self.familyModels,
        )

    def edited(self, config: AppConfig) -> Settings:
        """The engine's and families' settings of `config` that were edited since `set_config`
        (only those fields set), checked by their models."""
        engine = {
            name: getattr(config, name)
            for name in EngineSettings.model_fields
            if getattr(config, name) != getattr(self._shown, name)
        }
        families: dict[str, BaseModel] = {}
        for name, values in config.families.items():
            shown = self._shown.families.get(name, {})
            changed = {k: v for k, v in values.items() if k not in shown or shown[k] != v}
            if changed:
                families[name] = checked(self.familyModels[name], changed, name)
        # Checked whole (a rule may span fields: the web API's address and its TLS pair),
        # then only the edited fields are set.
        whole = checked(
            EngineSettings,
            {name: getattr(config, name) for name in EngineSettings.model_fields},
            "engine",
        )
        edited = EngineSettings.model_construct(
            set(engine), **{name: getattr(whole, name) for name in engine}
        )
        return Settings(edited, families)

    def problems(self) -> list[str]:
        """Why the fields cannot be saved as they are (empty: they can), each led by the
        label of its field ("Docker host: must be a daemon URL …")."""
        found: list[str] = []
        for form in (self.engineForm, *self.familyForms.values()):
            found.extend(
                f"{form.spec(k).label if k else 'Settings'}: {v}"
                for k, v in form.problems().items()
            )
        cluster = self.clusterPage.problem()
        if cluster is not None:
            found.append(f"Cluster: {cluster}")
        return found

    @Slot()
    def _validate(self, *_args: object) -> None:
        problems = self.problems()
        self.error.setText("\n".join(problems))
        self.error.setVisible(bool(problems))
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(not problems)
        ok.setToolTip("Correct the values shown in red first" if problems else "")

    # ------------------------------------------------------------------ OK

    def accept(self) -> None:
        """Save and apply, or stay open while a value is refused."""
        if self.problems():
            self._validate()
            return
        config = self.config()
        self.settings.save(config)
        try:
            self.clusterPage.save()
        except QueueError as exc:  # the keyring would not take the password: say so, stay open
            self.error.setText(f"Cluster: {exc.code.value}: {exc.message}")
            self.error.show()
            return
        apply_appearance(config.theme, config.font_size)
        edited = self.edited(config)
        self.saving = self._background.spawn(self.engine_settings.change(edited), "save settings")
        # Names only: a family's values may be anything its model holds.
        changed = [f"engine.{n}" for n in sorted(edited.engine.model_fields_set)] + [
            f"{family}.{n}"
            for family, model in sorted(edited.families.items())
            for n in sorted(model.model_fields_set)
        ]
        logger.info("settings applied (and being saved): %s", ", ".join(changed) or "none changed")
        super().accept()
