"""Qt widgets. Every Qt import of the app lives under `playground/ui`, `app.py`, `worker.py` and `settings.py`."""
