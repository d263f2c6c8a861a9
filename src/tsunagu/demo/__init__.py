"""The demo municipality つなぐ市: what ``make run`` loads before it serves the portal."""
