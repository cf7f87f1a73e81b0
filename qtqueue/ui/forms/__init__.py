"""Generated modules, committed: Designer forms (`ui/*.ui`) and the icon resources.

Never edit these by hand; regenerate them from the repository root and commit the result (a
test fails while one is stale; mypy skips them, and typed code may call their
unannotated `setupUi`: see `untyped_calls_exclude` in pyproject.toml):

    head='# ruff: noqa\n# mypy: ignore-errors\n'
    for f in main_window detail_pane schedule_dialog; do
        { printf "$head"; .venv/bin/pyside6-uic ui/$f.ui; } > qtqueue/ui/forms/${f}_ui.py
    done
    { printf "$head"; .venv/bin/pyside6-rcc -g python --format-version 1 --no-compress \
        resources/icons.qrc; } > qtqueue/ui/forms/icons_rc.py

(run pyside6-rcc from the `resources/` folder, or pass the .qrc path; it resolves file names
relative to the .qrc).
"""
