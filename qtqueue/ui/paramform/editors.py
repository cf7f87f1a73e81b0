"""The editors a params form is made of, behind an open registry.

Each editor is one field's widget, read and written as JSON-ready values. Which editor a field
gets is decided by the form's `EditorRegistry`: `add(kind_or_predicate, factory)` adds a rule (a
`FieldKind`, or a predicate over the `FieldSpec`), and the most recently added rule that
matches wins, so a family's `qt.py` can bring an editor of its own for its fields without
editing this module. A registry is an instance that whoever shows forms builds and hands to
`TaskForm`: a rule added to one changes no other form. `builtin_editors()` holds the built-in
editors (the nested form's is added in `form.py`): a line edit for text, a spin box with the
field's range for numbers, a check box, a choice, a row editor for lists and string-to-string
mappings, a file or folder picker, a credential picker and a JSON editor for anything else.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from qtqueue.core.param_schema import UNITS, FieldKind, FieldSpec, accepts_text, convert_item

logger = logging.getLogger(__name__)

_INT32_MAX = 2**31 - 1
_FLOAT_LIMIT = 1e15


class Editor:
    """One field's widget, read and written as JSON-ready values (None: empty)."""

    def __init__(self, spec: FieldSpec, widget: QWidget, marked: QWidget | None = None) -> None:
        self.spec = spec
        self.widget = widget
        #: The widget that gets the red border when the field is invalid.
        self.marked = marked if marked is not None else widget

    def value(self) -> Any:
        raise NotImplementedError

    def set_value(self, value: Any) -> None:
        raise NotImplementedError

    def local_error(self) -> str | None:
        """A problem the form itself sees before validation (a JSON syntax error…)."""
        return None

    def on_change(self, callback: Callable[[], None]) -> None:
        raise NotImplementedError


class TextEditor(Editor):
    def __init__(self, spec: FieldSpec) -> None:
        edit = QLineEdit()
        if spec.kind == FieldKind.PASSWORD:
            edit.setEchoMode(QLineEdit.EchoMode.Password)
        if spec.description:
            edit.setPlaceholderText(spec.description)
        super().__init__(spec, edit)
        self.edit = edit

    def value(self) -> Any:
        text = self.edit.text()
        if text == "" and (self.spec.nullable or self.spec.required):
            return None
        return text

    def set_value(self, value: Any) -> None:
        self.edit.setText("" if value is None else str(value))

    def on_change(self, callback: Callable[[], None]) -> None:
        self.edit.textEdited.connect(lambda _text: callback())


class MultilineEditor(Editor):
    def __init__(self, spec: FieldSpec) -> None:
        edit = QPlainTextEdit()
        edit.setTabChangesFocus(True)
        edit.setMaximumHeight(90)
        if spec.description:
            edit.setPlaceholderText(spec.description)
        super().__init__(spec, edit)
        self.edit = edit

    def value(self) -> Any:
        text = self.edit.toPlainText()
        if text == "" and (self.spec.nullable or self.spec.required):
            return None
        return text

    def set_value(self, value: Any) -> None:
        self.edit.setPlainText("" if value is None else str(value))

    def on_change(self, callback: Callable[[], None]) -> None:
        self.edit.textChanged.connect(callback)


class PathEditor(Editor):
    """A line edit and a "…" button that opens a file or folder chooser."""

    def __init__(self, spec: FieldSpec) -> None:
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(4)
        edit = QLineEdit()
        edit.setObjectName(f"{spec.name}Path")
        edit.setPlaceholderText(spec.description or ("Folder" if spec.kind == "folder" else "File"))
        browse = QToolButton()
        browse.setObjectName(f"{spec.name}Browse")
        browse.setText("…")
        browse.setToolTip("Choose a folder" if spec.kind == FieldKind.FOLDER else "Choose a file")
        browse.clicked.connect(self._browse)
        row.addWidget(edit, 1)
        row.addWidget(browse)
        super().__init__(spec, box, edit)
        self.edit = edit
        self.browse_button = browse
        self._changed: Callable[[], None] | None = None

    def _browse(self) -> None:
        start = self.edit.text()
        if self.spec.kind == FieldKind.FOLDER:
            chosen = QFileDialog.getExistingDirectory(self.widget, self.spec.label, start)
        else:
            chosen, _filter = QFileDialog.getOpenFileName(self.widget, self.spec.label, start)
        if chosen:
            self.edit.setText(chosen)
            if self._changed is not None:
                self._changed()

    def value(self) -> Any:
        text = self.edit.text()
        if text == "" and (self.spec.nullable or self.spec.required):
            return None
        return text

    def set_value(self, value: Any) -> None:
        self.edit.setText("" if value is None else str(value))

    def on_change(self, callback: Callable[[], None]) -> None:
        self._changed = callback
        self.edit.textEdited.connect(lambda _text: callback())


class _CompactDoubleSpinBox(QDoubleSpinBox):
    """Shows 5 rather than 5.000, 0.25 rather than 0.250."""

    def textFromValue(self, value: float) -> str:
        text = self.locale().toString(value, "f", self.decimals())
        point = self.locale().decimalPoint()
        if point in text:
            text = text.rstrip("0").rstrip(point)
        return text


def _spin_bounds(spec: FieldSpec, step: float, limit: float) -> tuple[float, float]:
    # An exclusive bound cannot be expressed by a spin box's range: an integer steps past
    # it; a float keeps the bound itself reachable and validation says why it is wrong.
    low = -limit if spec.minimum is None else spec.minimum
    high = limit if spec.maximum is None else spec.maximum
    if spec.kind == FieldKind.INTEGER:
        if spec.exclusive_minimum:
            low += step
        if spec.exclusive_maximum:
            high -= step
    return max(low, -limit), min(high, limit)


class NumberEditor(Editor):
    """A spin box ranged by the schema; for `X | None` a check box switches it on."""

    def __init__(self, spec: FieldSpec) -> None:
        self.integral = spec.kind == FieldKind.INTEGER
        bounds = [b for b in (spec.minimum, spec.maximum) if b is not None]
        small = self.integral and all(abs(b) < _INT32_MAX for b in bounds)
        low, high = _spin_bounds(spec, 1.0, _INT32_MAX if small else _FLOAT_LIMIT)
        spin: QSpinBox | QDoubleSpinBox
        if small:
            spin = QSpinBox()
            spin.setRange(int(low), int(high))
        else:
            spin = _CompactDoubleSpinBox()
            spin.setDecimals(0 if self.integral else 3)
            spin.setRange(low, high)
            if not self.integral:
                spin.setStepType(QDoubleSpinBox.StepType.AdaptiveDecimalStepType)
                spin.setSingleStep(1.0 if high - low >= 10 else 0.1)
        spin.setObjectName(f"{spec.name}Spin")
        spin.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # no changes by a passing wheel
        spin.setMinimumWidth(110)
        for suffix, shown in UNITS.items():
            if spec.name.endswith(suffix):
                spin.setSuffix(f" {shown}")
                break
        self.spin = spin
        self.enabled: QCheckBox | None = None
        if spec.nullable:
            box = QWidget()
            row = QHBoxLayout(box)
            row.setContentsMargins(0, 0, 0, 0)
            self.enabled = QCheckBox()
            self.enabled.setObjectName(f"{spec.name}Set")
            self.enabled.setToolTip("Set a value (unchecked: none)")
            self.enabled.toggled.connect(spin.setEnabled)
            spin.setEnabled(False)
            row.addWidget(self.enabled)
            row.addWidget(spin, 1)
            super().__init__(spec, box, spin)
        else:
            super().__init__(spec, spin)
            if not spec.has_default:
                spin.setValue(min(max(0, int(low)), int(high)) if self.integral else 0)

    def value(self) -> Any:
        if self.enabled is not None and not self.enabled.isChecked():
            return None
        number = self.spin.value()
        return round(number) if self.integral else float(number)

    def set_value(self, value: Any) -> None:
        if self.enabled is not None:
            self.enabled.setChecked(value is not None)
        if value is None:
            return
        try:
            number = float(value)
        except (TypeError, ValueError):
            logger.debug("ignoring a non-numeric value for %s", self.spec.name)
            return
        if math.isfinite(number):
            if isinstance(self.spin, QSpinBox):
                self.spin.setValue(round(number))
            else:
                self.spin.setValue(number)

    def on_change(self, callback: Callable[[], None]) -> None:
        self.spin.valueChanged.connect(lambda _v: callback())
        if self.enabled is not None:
            self.enabled.toggled.connect(lambda _on: callback())


class BoolEditor(Editor):
    def __init__(self, spec: FieldSpec) -> None:
        check = QCheckBox()
        check.setTristate(spec.nullable)
        super().__init__(spec, check)
        self.check = check

    def value(self) -> Any:
        state = self.check.checkState()
        if state == Qt.CheckState.PartiallyChecked:
            return None
        return state == Qt.CheckState.Checked

    def set_value(self, value: Any) -> None:
        if value is None and self.spec.nullable:
            self.check.setCheckState(Qt.CheckState.PartiallyChecked)
        else:
            self.check.setChecked(bool(value))

    def on_change(self, callback: Callable[[], None]) -> None:
        self.check.stateChanged.connect(lambda _s: callback())


class ChoiceEditor(Editor):
    """A combo box of the allowed values; an empty entry when none is allowed or needed."""

    _NONE_TEXT = "(none)"

    def __init__(self, spec: FieldSpec, choices: Iterable[Any], none_text: str) -> None:
        combo = QComboBox()
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        super().__init__(spec, combo)
        self.combo = combo
        if spec.nullable or not spec.has_default:
            combo.addItem(none_text, None)
        for choice in choices:
            combo.addItem(str(choice), choice)

    def value(self) -> Any:
        return self.combo.currentData()

    def set_value(self, value: Any) -> None:
        index = self.combo.findData(value)
        if index < 0 and value is not None:
            self.combo.addItem(self._missing_text(value), value)
            index = self.combo.count() - 1
        self.combo.setCurrentIndex(max(index, 0))

    def _missing_text(self, value: Any) -> str:
        return f"{value} (not allowed)"

    def on_change(self, callback: Callable[[], None]) -> None:
        self.combo.currentIndexChanged.connect(lambda _i: callback())


class CredentialEditor(ChoiceEditor):
    """Credentials are picked by name; the value stays in the keyring until the task runs."""

    def __init__(self, spec: FieldSpec, names: Iterable[str]) -> None:
        super().__init__(spec, sorted(names), "(none)" if spec.nullable else "(choose)")
        self.combo.setEditable(False)
        if not any(self.combo.itemData(i) is not None for i in range(self.combo.count())):
            self.combo.setToolTip("No credentials stored yet: add one under Credentials")

    def _missing_text(self, value: Any) -> str:
        return f"{value} (not in the keyring)"


class RowsEditor(Editor):
    """A table with add/remove buttons: one column for a list, two for a mapping."""

    def __init__(self, spec: FieldSpec) -> None:
        self.mapping = spec.kind == FieldKind.MAPPING
        box = QWidget()
        outer = QHBoxLayout(box)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(4)
        table = QTableWidget(0, 2 if self.mapping else 1)
        table.setObjectName(f"{spec.name}Rows")
        table.setHorizontalHeaderLabels(["Name", "Value"] if self.mapping else ["Item"])
        table.horizontalHeader().setVisible(self.mapping)
        table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        table.verticalHeader().setVisible(False)
        table.verticalHeader().setDefaultSectionSize(22)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
            | QAbstractItemView.EditTrigger.AnyKeyPressed
        )
        table.setMinimumHeight(52)
        table.setMaximumHeight(78)
        buttons = QVBoxLayout()
        buttons.setSpacing(2)
        add = QToolButton()
        add.setObjectName(f"{spec.name}Add")
        add.setText("+")
        add.setToolTip("Add a variable" if self.mapping else "Add an item")
        remove = QToolButton()
        remove.setObjectName(f"{spec.name}Remove")
        remove.setText("−")
        remove.setToolTip("Remove the selected rows")
        add.clicked.connect(lambda: self.add_row())
        remove.clicked.connect(lambda: self.remove_selected())
        buttons.addWidget(add)
        buttons.addWidget(remove)
        buttons.addStretch(1)
        outer.addWidget(table, 1)
        outer.addLayout(buttons)
        super().__init__(spec, box, table)
        self.table = table
        self.add_button = add
        self.remove_button = remove
        self._changed: Callable[[], None] | None = None

    def add_row(self, cells: Iterable[str] = (), *, edit: bool = True) -> int:
        """Append a row (empty, or with `cells`) and, by default, start editing it."""
        row = self.table.rowCount()
        self.table.insertRow(row)
        texts = list(cells)
        items = [
            QTableWidgetItem(texts[col] if col < len(texts) else "")
            for col in range(self.table.columnCount())
        ]
        for col, item in enumerate(items):
            self.table.setItem(row, col, item)
        if edit and not texts:
            self.table.setCurrentCell(row, 0)
            self.table.editItem(items[0])
        self._notify()
        return row

    def remove_selected(self) -> None:
        rows = sorted({i.row() for i in self.table.selectedIndexes()}, reverse=True)
        if not rows and self.table.currentRow() >= 0:
            rows = [self.table.currentRow()]
        for row in rows:
            self.table.removeRow(row)
        self._notify()

    def _cell(self, row: int, col: int) -> str:
        item = self.table.item(row, col)
        return item.text() if item is not None else ""

    def value(self) -> Any:
        if self.mapping:
            out: dict[str, Any] = {}
            for row in range(self.table.rowCount()):
                key = self._cell(row, 0).strip()
                if key:
                    out[key] = convert_item(self._cell(row, 1), self.spec.item_type)
            return out
        return [
            convert_item(self._cell(row, 0), self.spec.item_type)
            for row in range(self.table.rowCount())
        ]

    def local_error(self) -> str | None:
        if not self.mapping:
            return None
        seen: set[str] = set()
        for row in range(self.table.rowCount()):
            key = self._cell(row, 0).strip()
            if key in seen:
                return f"{key!r} is given twice"
            if not key and self._cell(row, 1):
                return f"row {row + 1} has a value but no name"
            seen.add(key)
        return None

    def set_value(self, value: Any) -> None:
        blocked = self.table.blockSignals(True)
        try:
            self.table.setRowCount(0)
            if isinstance(value, Mapping) and self.mapping:
                for key, item in value.items():
                    self.add_row([str(key), "" if item is None else str(item)], edit=False)
            elif isinstance(value, (list, tuple)) and not self.mapping:
                for item in value:
                    self.add_row(["" if item is None else str(item)], edit=False)
        finally:
            self.table.blockSignals(blocked)

    def _notify(self) -> None:
        if self._changed is not None and not self.table.signalsBlocked():
            self._changed()

    def on_change(self, callback: Callable[[], None]) -> None:
        self._changed = callback
        self.table.itemChanged.connect(lambda _item: callback())


class JsonEditor(Editor):
    """Anything the form has no widget for, typed as JSON; for a field that also takes plain
    text (`str | list[str]`, e.g. a container's command), text that is not a JSON list or
    object is taken as it is."""

    def __init__(self, spec: FieldSpec, *, multiline: bool = False) -> None:
        self.multiline = multiline
        self.takes_text = accepts_text(spec.schema)
        edit: QLineEdit | QPlainTextEdit
        if multiline:
            edit = QPlainTextEdit()
            edit.setTabChangesFocus(True)
            edit.setPlaceholderText('{"key": "value"}')
        else:
            edit = QLineEdit()
            edit.setPlaceholderText(
                'text, or JSON such as ["sh", "-c", "echo hi"]' if self.takes_text else "JSON"
            )
        super().__init__(spec, edit)
        self.edit = edit

    def _as_text(self, text: str) -> bool:
        return self.takes_text and not text.startswith(("[", "{"))

    def _text(self) -> str:
        edit = self.edit
        return edit.toPlainText() if isinstance(edit, QPlainTextEdit) else edit.text()

    def value(self) -> Any:
        text = self._text().strip()
        if not text:
            return None
        if self._as_text(text):
            return text
        try:
            return json.loads(text)
        except ValueError:
            return None

    def local_error(self) -> str | None:
        text = self._text().strip()
        if not text or self._as_text(text):
            return None
        try:
            json.loads(text)
        except ValueError as exc:
            return f"not valid JSON: {exc}"
        return None

    def set_value(self, value: Any) -> None:
        if isinstance(value, str) and self.takes_text:
            text = value
        else:
            text = "" if value is None else json.dumps(value, indent=2 if self.multiline else None)
        if isinstance(self.edit, QPlainTextEdit):
            self.edit.setPlainText(text)
        else:
            self.edit.setText(text)

    def on_change(self, callback: Callable[[], None]) -> None:
        if isinstance(self.edit, QPlainTextEdit):
            self.edit.textChanged.connect(callback)
        else:
            self.edit.textEdited.connect(lambda _t: callback())


EditorFactory = Callable[[FieldSpec, "EditorContext"], Editor]
"""Makes the editor of one field."""
EditorRule = FieldKind | Callable[[FieldSpec], bool]
"""Which fields a factory is for: one `FieldKind`, or a predicate over the field."""


class EditorRegistry:
    """Which editor each field of a form gets: rules, each a `FieldKind` or a predicate with
    the factory of its editor; the latest rule that matches a field wins. An instance, built
    by whoever shows forms (`builtin_editors()`, then the settings dialog's or a family's own
    rules on a `copy()`) and handed to `TaskForm`: a rule added to one registry changes only
    the forms built with it."""

    def __init__(self) -> None:
        self._rules: list[tuple[Callable[[FieldSpec], bool], EditorFactory]] = []

    def add(self, rule: EditorRule, factory: EditorFactory) -> Callable[[], None]:
        """Give the fields `rule` matches the editor `factory` makes, over the rules added
        before (a family's own editor over a built-in one). Returns a function that takes
        the rule back out."""
        matches: Callable[[FieldSpec], bool]
        if isinstance(rule, FieldKind):
            kind = rule
            matches = lambda spec: spec.kind == kind  # noqa: E731
        else:
            matches = rule
        entry = (matches, factory)
        self._rules.append(entry)
        return lambda: self._rules.remove(entry)

    def copy(self) -> EditorRegistry:
        """A registry with these rules, to add more to without changing this one."""
        other = EditorRegistry()
        other._rules = list(self._rules)
        return other

    def make(self, spec: FieldSpec, context: EditorContext) -> Editor:
        """The editor of `spec`: the latest rule that matches it, else a JSON editor."""
        for matches, factory in reversed(self._rules):
            if matches(spec):
                return factory(spec, context)
        return JsonEditor(spec)


@dataclass(frozen=True)
class EditorContext:
    """What an editor may need beyond its field: the stored credentials' names, and the
    registry its form was built with (for a nested form)."""

    credential_names: list[str] = field(default_factory=list)
    editors: EditorRegistry = field(default_factory=EditorRegistry)


def _choice_editor(spec: FieldSpec, _context: EditorContext) -> Editor:
    return ChoiceEditor(spec, spec.choices, "(none)" if spec.nullable else "(choose)")


def builtin_editors() -> EditorRegistry:
    """A new registry with the editor of each built-in field kind (not the nested form of a
    sub-model: `paramform.form.form_editors` adds that)."""
    registry = EditorRegistry()
    for kinds, factory in (
        ((FieldKind.TEXT, FieldKind.PASSWORD), lambda s, _c: TextEditor(s)),
        ((FieldKind.MULTILINE,), lambda s, _c: MultilineEditor(s)),
        ((FieldKind.FILE, FieldKind.FOLDER), lambda s, _c: PathEditor(s)),
        ((FieldKind.INTEGER, FieldKind.NUMBER), lambda s, _c: NumberEditor(s)),
        ((FieldKind.BOOLEAN,), lambda s, _c: BoolEditor(s)),
        ((FieldKind.CHOICE,), _choice_editor),
        ((FieldKind.CREDENTIAL,), lambda s, c: CredentialEditor(s, c.credential_names)),
        ((FieldKind.LIST, FieldKind.MAPPING), lambda s, _c: RowsEditor(s)),
        ((FieldKind.JSON,), lambda s, _c: JsonEditor(s)),
    ):
        for kind in kinds:
            registry.add(kind, factory)
    return registry
