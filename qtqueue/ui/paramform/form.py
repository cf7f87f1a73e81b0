"""A form for one task type's params, generated from its params model's JSON schema.

`core.param_schema.parse_schema` reads the schema into `FieldSpec`s; `TaskForm` asks the editor
registry it is given (`editors.EditorRegistry`, by default `form_editors()`) for one editor
per field, including a nested form for a sub-model (added here). Checking is the executor's
own `validate()`: each problem it names ("command: required") is shown under the widget of
its field.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pydantic import BaseModel
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from qtqueue.core.errors import QueueError
from qtqueue.core.param_schema import (
    FieldKind,
    FieldSpec,
    is_free_form,
    parse_schema,
    split_problem,
)
from qtqueue.executors.base import Executor
from qtqueue.ui.paramform.editors import (
    Editor,
    EditorContext,
    EditorRegistry,
    JsonEditor,
    builtin_editors,
)
from qtqueue.ui.theme import themed

logger = logging.getLogger(__name__)

Validator = Callable[[dict[str, Any]], Any]

_ERROR_COLOUR = "#c62828"
_STYLE = f"""
QLineEdit[invalid="true"], QAbstractSpinBox[invalid="true"], QComboBox[invalid="true"],
QTableWidget[invalid="true"], QPlainTextEdit[invalid="true"] {{
    border: 1px solid {_ERROR_COLOUR}; border-radius: 2px;
}}
QLabel[role="fieldError"], QLabel[role="formError"] {{ color: {_ERROR_COLOUR}; }}
"""


def field_order(model: type[BaseModel]) -> list[str]:
    """A params model's field names: its own first, then each base class's, required ones
    first within each class."""
    fields = model.model_fields
    seen: list[str] = []
    for cls in model.__mro__:
        own = [n for n in getattr(cls, "__annotations__", {}) if n in fields and n not in seen]
        own.sort(key=lambda n: not fields[n].is_required())
        seen.extend(own)
    seen.extend(n for n in fields if n not in seen)
    return seen


def _set_invalid(widget: QWidget, invalid: bool) -> None:
    if bool(widget.property("invalid")) == invalid:
        return
    widget.setProperty("invalid", invalid)
    style = widget.style()
    style.unpolish(widget)
    style.polish(widget)
    widget.update()


class TaskForm(QWidget):
    """Editors for the fields of a params schema, with inline validation.

    `validator` is the executor's `validate` (see `for_executor`): it gets `values()` and
    raises QueueError whose `details["fields"]` name each bad field ("grace_s: Input should
    be less than or equal to 600"). Problems are shown under their field (red border and
    message) for fields the user has edited, and for every field once `validate()` ran.
    """

    changed = Signal()
    """Any field was edited."""
    validityChanged = Signal(bool)
    """The params became valid or invalid (checked after every edit)."""

    def __init__(
        self,
        schema: Mapping[str, Any],
        validator: Validator | None = None,
        *,
        credential_names: Iterable[str] = (),
        order: Iterable[str] = (),
        editors: EditorRegistry | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.editors = editors if editors is not None else form_editors()
        self.setObjectName("taskForm")
        self.schema = dict(schema)
        self._validator = validator
        self._credential_names = list(credential_names)
        self._editors: dict[str, Editor] = {}
        self._labels: dict[str, QLabel] = {}
        self._error_labels: dict[str, QLabel] = {}
        self._touched: set[str] = set()
        self._show_all = False
        self._valid: bool | None = None
        self._errors: dict[str, str] = {}
        self._free_form: JsonEditor | None = None
        self._notice = ""
        self._loading = True  # filling in values is not the user editing them
        self.setStyleSheet(themed(_STYLE))

        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        self._form_error = QLabel()
        self._form_error.setObjectName("formError")
        self._form_error.setProperty("role", "formError")
        self._form_error.setWordWrap(True)
        self._form_error.hide()
        outer.addWidget(self._form_error)
        layout = QFormLayout()
        layout.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        layout.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        layout.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
        outer.addLayout(layout)
        outer.addStretch(1)
        self._layout = layout

        self.fields = parse_schema(self.schema)
        order = list(order)
        if order:
            # Named fields first, in that order; the rest keep the schema's order.
            rank = {name: i for i, name in enumerate(order)}
            self.fields.sort(key=lambda f: rank.get(f.name, len(rank)))
        if not self.fields and is_free_form(self.schema):
            spec = FieldSpec(
                name="params",
                label="Params (JSON)",
                kind=FieldKind.JSON,
                description="Any JSON object: it is passed to the handler as it is",
            )
            self._free_form = JsonEditor(spec, multiline=True)
            self._free_form.set_value({})
            self._add_row(spec, self._free_form)
        for spec in self.fields:
            editor = self.editors.make(
                spec, EditorContext(list(self._credential_names), self.editors)
            )
            if spec.has_default:
                editor.set_value(spec.default)
            self._add_row(spec, editor)
        self._loading = False

    @classmethod
    def for_executor(
        cls,
        executor: Executor,
        *,
        credential_names: Iterable[str] = (),
        editors: EditorRegistry | None = None,
        parent: QWidget | None = None,
    ) -> TaskForm:
        """The form for an executor's params, checked by its `validate()`; the fields a
        params model declares itself come before those it inherits (the command before the
        generic process options)."""
        return cls(
            executor.schema(),
            executor.validate,
            credential_names=credential_names,
            order=field_order(executor.params_model),
            editors=editors,
            parent=parent,
        )

    def _add_row(self, spec: FieldSpec, editor: Editor) -> None:
        name = spec.name
        if not editor.widget.objectName():
            editor.widget.setObjectName(name)
        if editor.marked is not editor.widget and not editor.marked.objectName():
            editor.marked.setObjectName(f"{name}Edit")
        label = QLabel(spec.label + (" *" if spec.required else ""))
        label.setObjectName(f"{name}Label")
        if spec.required:
            font = QFont(label.font())
            font.setBold(True)
            label.setFont(font)
        label.setBuddy(editor.marked)
        tip = spec.description + ("\nRequired." if spec.required else "")
        for widget in (label, editor.widget, editor.marked):
            widget.setToolTip(widget.toolTip() or tip.strip())
        error = QLabel()
        error.setObjectName(f"{name}Error")
        error.setProperty("role", "fieldError")
        error.setWordWrap(True)
        error.hide()
        cell = QWidget()
        column = QVBoxLayout(cell)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        column.addWidget(editor.widget)
        column.addWidget(error)
        self._layout.addRow(label, cell)
        self._editors[name] = editor
        self._labels[name] = label
        self._error_labels[name] = error
        editor.on_change(lambda: self._edited(name))

    # ------------------------------------------------------------------ reading and writing

    def values(self) -> dict[str, Any]:
        """The params as typed: required fields left empty and untouched optional fields whose
        value is None are left out (so validation says which are missing)."""
        if self._free_form is not None:
            value = self._free_form.value()
            return dict(value) if isinstance(value, dict) else {}
        out: dict[str, Any] = {}
        for spec in self.fields:
            value = self._editors[spec.name].value()
            if value is None:
                if spec.required or not spec.nullable:
                    continue
                if not spec.has_default or spec.default is None:
                    continue
            out[spec.name] = value
        return out

    def set_values(self, values: Mapping[str, Any]) -> None:
        """Fill the form from params (a task's, for Duplicate); unknown keys are reported."""
        self._loading = True
        try:
            if self._free_form is not None:
                self._free_form.set_value(dict(values))
                unknown = []
            else:
                unknown = [k for k in values if k not in self._editors]
                for spec in self.fields:
                    if spec.name in values:
                        self._editors[spec.name].set_value(values[spec.name])
        finally:
            self._loading = False
        if unknown:
            logger.info("params not in the form were ignored: %s", ", ".join(unknown))
        self._notice = (
            f"Ignored parameter(s) this task type does not take: {', '.join(sorted(unknown))}"
            if unknown
            else ""
        )
        self._revalidate()

    def field_names(self) -> list[str]:
        return [spec.name for spec in self.fields]

    def spec(self, name: str) -> FieldSpec:
        return self._editors[name].spec

    def field_widget(self, name: str) -> QWidget:
        """The editor widget of a field (for a picker: the box holding edit and button)."""
        return self._editors[name].widget

    def input_widget(self, name: str) -> QWidget:
        """The widget the user types into (the one marked red when invalid)."""
        return self._editors[name].marked

    def label_widget(self, name: str) -> QLabel:
        return self._labels[name]

    def error_text(self, name: str) -> str:
        """The message shown under a field, or ""."""
        label = self._error_labels[name]
        return label.text() if not label.isHidden() else ""

    def form_error_text(self) -> str:
        """Problems not tied to one field ("" if none)."""
        return self._form_error.text() if not self._form_error.isHidden() else ""

    # ------------------------------------------------------------------ validation

    def problems(self) -> dict[str, str]:
        """Field name -> what is wrong with it ("" for problems of the params as a whole)."""
        found: dict[str, str] = {}
        for name, editor in self._editors.items():
            local = editor.local_error()
            if local:
                found[name] = local
        if self._validator is not None:
            try:
                self._validator(self.values())
            except QueueError as exc:
                listed = exc.details.get("fields") or [exc.message]
                for problem in listed:
                    path, message = split_problem(str(problem))
                    self._route(found, path, message)
        return found

    def _route(self, found: dict[str, str], path: list[str], message: str) -> None:
        if self._free_form is not None:
            key, text = "params", f"{'.'.join(path)}: {message}" if path else message
        elif path and path[0] in self._editors:
            key = path[0]
            rest = path[1:]
            editor = self._editors[key]
            if rest and isinstance(editor, ObjectEditor):
                text = f"{'.'.join(rest)}: {message}"
            elif rest and editor.spec.kind == FieldKind.LIST and rest[0].isdigit():
                text = f"item {int(rest[0]) + 1}: {message}"
            elif rest:
                text = f"{'.'.join(rest)}: {message}"
            else:
                text = message
        else:
            key = ""
            text = f"{'.'.join(path)}: {message}" if path else message
        found[key] = f"{found[key]}; {text}" if key in found else text

    def validate(self) -> dict[str, str]:
        """Check now and show every problem inline; returns them (empty when valid)."""
        self._show_all = True
        return self._revalidate()

    def is_valid(self) -> bool:
        """Whether the params validate; shows the problems inline when they do not."""
        return not self.validate()

    def first_invalid_widget(self) -> QWidget | None:
        for name in self._editors:
            if name in self._errors:
                return self._editors[name].marked
        return None

    def _edited(self, name: str) -> None:
        if self._loading:
            return
        self._touched.add(name)
        self._revalidate()
        self.changed.emit()

    def _revalidate(self) -> dict[str, str]:
        found = self.problems()
        self._errors = found
        for name, editor in self._editors.items():
            message = found.get(name, "")
            shown = bool(message) and (self._show_all or name in self._touched)
            label = self._error_labels[name]
            label.setText(message if shown else "")
            label.setVisible(shown)
            _set_invalid(editor.marked, shown)
        general = [found[""]] if "" in found and self._show_all else []
        if self._notice:
            general.append(self._notice)
        self._form_error.setText("\n".join(general))
        self._form_error.setVisible(bool(general))
        valid = not found
        if valid != self._valid:
            self._valid = valid
            self.validityChanged.emit(valid)
        return found


class ObjectEditor(Editor):
    """A nested params model: its own form inside a group box."""

    def __init__(
        self, spec: FieldSpec, credential_names: Iterable[str], editors: EditorRegistry
    ) -> None:
        group = QGroupBox()
        layout = QVBoxLayout(group)
        layout.setContentsMargins(6, 6, 6, 6)
        self.form = TaskForm(spec.schema, credential_names=credential_names, editors=editors)
        self.form.setObjectName(f"{spec.name}Form")
        layout.addWidget(self.form)
        super().__init__(spec, group)

    def value(self) -> Any:
        return self.form.values()

    def set_value(self, value: Any) -> None:
        if isinstance(value, Mapping):
            self.form.set_values(value)

    def local_error(self) -> str | None:
        return None

    def on_change(self, callback: Callable[[], None]) -> None:
        self.form.changed.connect(callback)


def form_editors() -> EditorRegistry:
    """A new registry with the built-in editors and the nested form of a sub-model."""
    registry = builtin_editors()
    registry.add(
        FieldKind.OBJECT,
        lambda spec, context: ObjectEditor(spec, context.credential_names, context.editors),
    )
    return registry
