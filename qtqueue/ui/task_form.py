"""A form for one task type's params, generated from its params model's JSON schema.

`parse_schema` turns pydantic v2 `model_json_schema()` output into `FieldSpec`s (no Qt);
`TaskForm` builds one editor per field: a line edit for text, a spin box with the field's range
for numbers, a check box, a choice, a row editor for lists and for string-to-string mappings, a
file or folder picker (`json_schema_extra={"widget": "file" | "folder"}`), a credential picker
(fields named `credential`, or `{"widget": "credential"}`), a nested form for a sub-model and a
JSON editor for anything else. Checking is the executor's own `validate()`: each problem it
names ("command: required") is shown under the widget of its field.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import BaseModel
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from qtqueue.core.errors import QueueError
from qtqueue.executors.base import Executor

logger = logging.getLogger(__name__)

Validator = Callable[[dict[str, Any]], Any]

_INT32_MAX = 2**31 - 1
_FLOAT_LIMIT = 1e15
_ERROR_COLOUR = "#c62828"
_STYLE = f"""
QLineEdit[invalid="true"], QAbstractSpinBox[invalid="true"], QComboBox[invalid="true"],
QTableWidget[invalid="true"], QPlainTextEdit[invalid="true"] {{
    border: 1px solid {_ERROR_COLOUR}; border-radius: 2px;
}}
QLabel[role="fieldError"], QLabel[role="formError"] {{ color: {_ERROR_COLOUR}; }}
"""
#: Labels for field names whose automatic title says little.
_NAMES = {
    "cwd": "Working directory",
    "env": "Environment",
    "args": "Arguments",
    "url": "URL",
    "id": "ID",
}
#: Unit suffixes of field names (durations carry their unit) and how a label shows them.
_UNITS = {"_s": "s", "_ms": "ms", "_gb": "GB", "_mb": "MB", "_bytes": "bytes"}
_MISSING: Any = object()


class FieldKind(StrEnum):
    """Which editor a field gets."""

    TEXT = "text"
    PASSWORD = "password"
    MULTILINE = "multiline"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    CHOICE = "choice"
    LIST = "list"
    MAPPING = "mapping"
    FILE = "file"
    FOLDER = "folder"
    CREDENTIAL = "credential"
    OBJECT = "object"
    JSON = "json"


@dataclass
class FieldSpec:
    """One params field as the form sees it."""

    name: str
    label: str
    kind: FieldKind
    description: str = ""
    required: bool = False
    nullable: bool = False
    """None is a valid value (`X | None`)."""
    default: Any = _MISSING
    """The schema's default, or `_MISSING` (required, or built by a default factory)."""
    choices: list[Any] = field(default_factory=list)
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    item_type: str = "string"
    """JSON type of list items / mapping values."""
    schema: dict[str, Any] = field(default_factory=dict)
    """The resolved schema of the field (a nested object's properties live here)."""

    @property
    def has_default(self) -> bool:
        return self.default is not _MISSING


# --------------------------------------------------------------------------- schema reading


def _resolve(node: Mapping[str, Any], root: Mapping[str, Any]) -> dict[str, Any]:
    """`node` with `$ref` (and a single-item `allOf`) replaced by what it points to; the
    node's own keys (description, default, widget hints) win over the target's."""
    out = dict(node)
    for _ in range(32):  # a cycle of references must not hang the form
        if "$ref" in out:
            ref = str(out.pop("$ref"))
            target: Any = root
            for part in ref.removeprefix("#/").split("/"):
                target = target.get(part, {}) if isinstance(target, Mapping) else {}
            out = {**target, **out}
        elif isinstance(out.get("allOf"), list) and len(out["allOf"]) == 1:
            inner = out.pop("allOf")[0]
            out = {**inner, **out}
        else:
            break
    return out


def _split_nullable(node: dict[str, Any], root: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    """(the non-null schema, whether null is allowed) for `X | None` spelled as anyOf or a
    list of types."""
    for key in ("anyOf", "oneOf"):
        options = node.get(key)
        if isinstance(options, list):
            rest = [o for o in options if not (isinstance(o, Mapping) and o.get("type") == "null")]
            if len(rest) < len(options) and len(rest) == 1:
                merged = {k: v for k, v in node.items() if k != key}
                return {**_resolve(rest[0], root), **merged}, True
            if len(rest) < len(options):
                return node, True
    types = node.get("type")
    if isinstance(types, list) and "null" in types:
        rest_types = [t for t in types if t != "null"]
        single = rest_types[0] if len(rest_types) == 1 else rest_types
        return {**node, "type": single}, True
    return node, False


def _label(name: str, title: str | None) -> str:
    auto = name.replace("_", " ").title()
    if title and title != auto:
        return title
    if name in _NAMES:
        return _NAMES[name]
    unit = ""
    for suffix, shown in _UNITS.items():
        if name.endswith(suffix) and len(name) > len(suffix):
            name, unit = name[: -len(suffix)], f" ({shown})"
            break
    words = name.replace("_", " ").strip()
    return (words[:1].upper() + words[1:] + unit) if words else auto


def _kind(name: str, node: Mapping[str, Any]) -> FieldKind:
    widget = node.get("widget")
    jtype = node.get("type")
    if widget == "credential" or name == "credential" or name.endswith("_credential"):
        return FieldKind.CREDENTIAL
    if "enum" in node or "const" in node:
        return FieldKind.CHOICE
    if jtype == "string":
        if widget in ("file", "folder"):
            return FieldKind(widget)
        if widget in ("multiline", "textarea"):
            return FieldKind.MULTILINE
        if node.get("format") == "password" or widget == "password":
            return FieldKind.PASSWORD
        return FieldKind.TEXT
    if jtype == "boolean":
        return FieldKind.BOOLEAN
    if jtype == "integer":
        return FieldKind.INTEGER
    if jtype == "number":
        return FieldKind.NUMBER
    if jtype == "array":
        items = node.get("items")
        if isinstance(items, Mapping) and items.get("type") in ("string", "integer", "number"):
            return FieldKind.LIST
        return FieldKind.JSON
    if jtype == "object" or "properties" in node:
        extra = node.get("additionalProperties")
        if node.get("properties"):
            return FieldKind.OBJECT
        if isinstance(extra, Mapping) and extra.get("type") in ("string", "integer", "number"):
            return FieldKind.MAPPING
    return FieldKind.JSON


def parse_schema(schema: Mapping[str, Any]) -> list[FieldSpec]:
    """The fields of an object schema, in declaration order, with `$ref`s resolved."""
    root = schema
    top = _resolve(schema, root)
    required = set(top.get("required") or [])
    specs: list[FieldSpec] = []
    for name, raw in (top.get("properties") or {}).items():
        node, nullable = _split_nullable(_resolve(raw, root), root)
        kind = _kind(name, node)
        if kind in (FieldKind.OBJECT, FieldKind.CHOICE):
            node = _resolve(node, root)
        spec = FieldSpec(
            name=name,
            label=_label(name, raw.get("title") or node.get("title")),
            kind=kind,
            description=str(raw.get("description") or node.get("description") or ""),
            required=name in required,
            nullable=nullable,
            default=raw.get("default", node.get("default", _MISSING)),
            schema={**node, "$defs": root.get("$defs", {})} if kind == FieldKind.OBJECT else node,
        )
        if kind == FieldKind.CHOICE:
            spec.choices = list(node["enum"]) if "enum" in node else [node["const"]]
        if kind in (FieldKind.INTEGER, FieldKind.NUMBER):
            for key, attr, exclusive in (
                ("minimum", "minimum", False),
                ("exclusiveMinimum", "minimum", True),
                ("maximum", "maximum", False),
                ("exclusiveMaximum", "maximum", True),
            ):
                if isinstance(node.get(key), (int, float)):
                    setattr(spec, attr, float(node[key]))
                    setattr(spec, f"exclusive_{attr}", exclusive)
        if kind == FieldKind.LIST:
            spec.item_type = str(node["items"].get("type", "string"))
        if kind == FieldKind.MAPPING:
            spec.item_type = str(node["additionalProperties"].get("type", "string"))
        specs.append(spec)
    return specs


def is_free_form(schema: Mapping[str, Any]) -> bool:
    """True for a schema that takes any JSON object and names no fields (plain handlers)."""
    top = _resolve(schema, schema)
    return not top.get("properties") and top.get("additionalProperties", True) is not False


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


def _convert(text: str, json_type: str) -> Any:
    """A list item / mapping value typed by the user, as its JSON type where it parses."""
    try:
        if json_type == "integer":
            return int(text)
        if json_type == "number":
            return float(text)
    except ValueError:
        pass  # left as text: validation names the problem
    return text


def _split_problem(problem: str) -> tuple[list[str], str]:
    """("a.b: msg") -> (["a", "b"], "msg"); strips pydantic's "Value error, " prefix."""
    where, sep, message = problem.partition(": ")
    if not sep:
        return [], problem
    message = message.removeprefix("Value error, ")
    return [p for p in where.split(".") if p], message


# --------------------------------------------------------------------------- editors


class _Editor:
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


class _TextEditor(_Editor):
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


class _MultilineEditor(_Editor):
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


class _PathEditor(_Editor):
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


class _NumberEditor(_Editor):
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
        for suffix, shown in _UNITS.items():
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


class _BoolEditor(_Editor):
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


class _ChoiceEditor(_Editor):
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


class _CredentialEditor(_ChoiceEditor):
    """Credentials are picked by name; the value stays in the keyring until the task runs."""

    def __init__(self, spec: FieldSpec, names: Iterable[str]) -> None:
        super().__init__(spec, sorted(names), "(none)" if spec.nullable else "(choose)")
        self.combo.setEditable(False)
        if not any(self.combo.itemData(i) is not None for i in range(self.combo.count())):
            self.combo.setToolTip("No credentials stored yet: add one under Credentials")

    def _missing_text(self, value: Any) -> str:
        return f"{value} (not in the keyring)"


class _RowsEditor(_Editor):
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
                    out[key] = _convert(self._cell(row, 1), self.spec.item_type)
            return out
        return [
            _convert(self._cell(row, 0), self.spec.item_type)
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


def _accepts_text(schema: Mapping[str, Any]) -> bool:
    """Whether a union field (anyOf / oneOf) takes a plain string as one of its forms."""
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list) and any(
            isinstance(o, Mapping) and o.get("type") == "string" for o in options
        ):
            return True
    return False


class _JsonEditor(_Editor):
    """Anything the form has no widget for, typed as JSON; for a field that also takes plain
    text (`str | list[str]`, e.g. a container's command), text that is not a JSON list or
    object is taken as it is."""

    def __init__(self, spec: FieldSpec, *, multiline: bool = False) -> None:
        self.multiline = multiline
        self.takes_text = _accepts_text(spec.schema)
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


class _ObjectEditor(_Editor):
    """A nested params model: its own form inside a group box."""

    def __init__(self, spec: FieldSpec, credential_names: Iterable[str]) -> None:
        group = QGroupBox()
        layout = QVBoxLayout(group)
        layout.setContentsMargins(6, 6, 6, 6)
        self.form = TaskForm(spec.schema, credential_names=credential_names)
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


def _make_editor(spec: FieldSpec, credential_names: Iterable[str]) -> _Editor:
    kind = spec.kind
    if kind in (FieldKind.TEXT, FieldKind.PASSWORD):
        return _TextEditor(spec)
    if kind == FieldKind.MULTILINE:
        return _MultilineEditor(spec)
    if kind in (FieldKind.FILE, FieldKind.FOLDER):
        return _PathEditor(spec)
    if kind in (FieldKind.INTEGER, FieldKind.NUMBER):
        return _NumberEditor(spec)
    if kind == FieldKind.BOOLEAN:
        return _BoolEditor(spec)
    if kind == FieldKind.CHOICE:
        return _ChoiceEditor(spec, spec.choices, "(none)" if spec.nullable else "(choose)")
    if kind == FieldKind.CREDENTIAL:
        return _CredentialEditor(spec, credential_names)
    if kind in (FieldKind.LIST, FieldKind.MAPPING):
        return _RowsEditor(spec)
    if kind == FieldKind.OBJECT:
        return _ObjectEditor(spec, credential_names)
    return _JsonEditor(spec)


def _set_invalid(widget: QWidget, invalid: bool) -> None:
    if bool(widget.property("invalid")) == invalid:
        return
    widget.setProperty("invalid", invalid)
    style = widget.style()
    style.unpolish(widget)
    style.polish(widget)
    widget.update()


# --------------------------------------------------------------------------- the form


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
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("taskForm")
        self.schema = dict(schema)
        self._validator = validator
        self._credential_names = list(credential_names)
        self._editors: dict[str, _Editor] = {}
        self._labels: dict[str, QLabel] = {}
        self._error_labels: dict[str, QLabel] = {}
        self._touched: set[str] = set()
        self._show_all = False
        self._valid: bool | None = None
        self._errors: dict[str, str] = {}
        self._free_form: _JsonEditor | None = None
        self._notice = ""
        self._loading = True  # filling in values is not the user editing them
        self.setStyleSheet(_STYLE)

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
            self._free_form = _JsonEditor(spec, multiline=True)
            self._free_form.set_value({})
            self._add_row(spec, self._free_form)
        for spec in self.fields:
            editor = _make_editor(spec, self._credential_names)
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
            parent=parent,
        )

    def _add_row(self, spec: FieldSpec, editor: _Editor) -> None:
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
                    path, message = _split_problem(str(problem))
                    self._route(found, path, message)
        return found

    def _route(self, found: dict[str, str], path: list[str], message: str) -> None:
        if self._free_form is not None:
            key, text = "params", f"{'.'.join(path)}: {message}" if path else message
        elif path and path[0] in self._editors:
            key = path[0]
            rest = path[1:]
            editor = self._editors[key]
            if rest and isinstance(editor, _ObjectEditor):
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
