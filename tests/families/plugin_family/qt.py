"""The plug-in's window side, loaded through `Family.qt_module`: its own editor for text fields
(a pick of well-known names). The window adds it only to the forms of the family's own types
and to its settings page."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QComboBox

from qtqueue.core.param_schema import FieldKind, FieldSpec
from qtqueue.ui.paramform.editors import Editor, EditorContext, EditorRegistry

logger = logging.getLogger(__name__)

__all__ = ["NamePicker", "editors"]

#: The names the picker offers (any other can be typed).
NAMES = ("Ada", "Grace", "Hello")


class NamePicker(Editor):
    """An editable combo box of well-known names."""

    def __init__(self, spec: FieldSpec) -> None:
        combo = QComboBox()
        combo.setObjectName("namePicker")
        combo.setEditable(True)
        combo.addItems(NAMES)
        combo.setCurrentText("")
        super().__init__(spec, combo)
        self.combo = combo

    def value(self) -> Any:
        return self.combo.currentText() or None

    def set_value(self, value: Any) -> None:
        self.combo.setCurrentText("" if value is None else str(value))

    def on_change(self, callback: Callable[[], None]) -> None:
        self.combo.currentTextChanged.connect(lambda _text: callback())


def _picker(spec: FieldSpec, _context: EditorContext) -> Editor:
    return NamePicker(spec)


def editors(registry: EditorRegistry) -> None:
    """Every text field of the family's forms gets a `NamePicker`."""
    registry.add(FieldKind.TEXT, _picker)
