"""The contract pages of the local stack: /openapi.json, and /docs rendered in Debian's headless chromium."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.support import ROOT, wait_for

pytestmark = pytest.mark.e2e
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
COMMITTED = json.loads((ROOT / "docs" / "openapi.json").read_text())
OPERATIONS = sorted((m.upper(), p) for p, ops in COMMITTED["paths"].items() for m in ops)


def test_the_contract_is_served_without_credentials_and_names_this_stack(stack):
    answer = requests.get(f"{stack.url}/openapi.json", timeout=10)

    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    served = answer.json()
    assert served["servers"] == [{"url": stack.url, "description": "This local stack"}]
    assert {**served, "servers": COMMITTED["servers"]} == COMMITTED


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.fail("Debian's chromium and chromium-driver are missing: `make system` installs them")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # This machine's network is closed: no background fetches (each would fail, and be logged).
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def test_the_docs_page_renders_every_route_with_no_console_errors(stack, browser):
    from selenium.webdriver.common.by import By

    browser.get(f"{stack.url}/docs")

    def rendered() -> list[Any] | None:
        blocks = browser.find_elements(By.CSS_SELECTOR, ".opblock")
        return blocks if len(blocks) >= len(OPERATIONS) else None

    blocks = wait_for(rendered, timeout=30, what="Swagger UI to list the operations")
    shown = sorted(
        (
            block.find_element(By.CSS_SELECTOR, ".opblock-summary-method").text.upper(),
            block.find_element(By.CSS_SELECTOR, ".opblock-summary-path").get_attribute("data-path"),
        )
        for block in blocks
    )
    assert shown == OPERATIONS
    assert browser.find_elements(By.CSS_SELECTOR, ".errors-wrapper") == []  # no spec errors shown
    assert "tasklane" in browser.find_element(By.CSS_SELECTOR, ".info .title").text
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []
    # Every asset came from this stack: nothing was fetched from elsewhere.
    sources = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert sources and all(s.startswith(stack.url) for s in sources), sources
