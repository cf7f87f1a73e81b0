"""Tests of the desktop application (pytest-qt, real widgets offscreen)."""
