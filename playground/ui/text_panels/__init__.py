"""Text-tab task panels: each module has TITLE (str), ORDER (int) and build(ctx) -> QWidget.

The Text tab discovers the modules here, so each task lives in its own file.
"""
