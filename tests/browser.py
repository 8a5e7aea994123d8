"""Debian's headless Chromium for the tests that look at a page (`tests/test_report.py`,
`tests/test_dashboard.py`). Playwright's own browser download is not reachable, so the tests
use /usr/bin/chromium, which .ci/run installs when it is absent; a missing browser fails a test
with this message rather than skipping it."""

from __future__ import annotations

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
# without the background-networking flags Chromium's own connections are refused by a closed
# network and the page can stall
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
MISSING = (
    f"{CHROMIUM} is missing: the page tests need Debian's chromium "
    "(apt-get install -y chromium; .ci/run installs it when absent)"
)
