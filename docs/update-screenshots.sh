#!/bin/sh
# Refresh the console screenshots under docs/ (dashboard, escalation, incident, report) from the browser tests,
# against the real dev server and Chromium: run from the repository root.
set -e
UPDATE_SCREENSHOTS=1 .venv/bin/python -m pytest tests/test_console_browser.py tests/test_browser.py -q -p no:cacheprovider
