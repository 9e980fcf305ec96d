"""A headless Chromium for the admin's browser tests, with screenshots kept as test artifacts
(``$KARAFKA_TEST_ARTIFACTS`` or ``test-artifacts/`` at the top of the checkout)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("KARAFKA_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "screenshots"
WAIT_S = 20


class Browser:
    def __init__(self, base_url: str, profile: Path, test_name: str):
        options = webdriver.ChromeOptions()
        options.binary_location = shutil.which("chromium")
        for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1280,900",
                     f"--user-data-dir={profile}"):
            options.add_argument(flag)
        self.driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
        self.base_url, self.test_name = base_url, test_name

    def __getattr__(self, name: str):
        return getattr(self.driver, name)

    def wait(self) -> WebDriverWait:
        return WebDriverWait(self.driver, WAIT_S, ignored_exceptions=(StaleElementReferenceException,))

    def log_in(self, username: str, password: str = "pw") -> None:
        self.driver.delete_all_cookies()
        self.driver.get(f"{self.base_url}/admin/login/")
        self.find(By.NAME, "username").send_keys(username)
        self.find(By.NAME, "password").send_keys(password)
        self.submit(self.find(By.CSS_SELECTOR, "input[type=submit]"))

    def open(self, path: str, wait_for_nav: bool = True) -> None:
        self.driver.get(self.base_url + path)
        if wait_for_nav:
            self.wait().until(EC.presence_of_element_located((By.CLASS_NAME, "karafka-nav")))

    def find(self, by: str, value: str):
        return self.wait().until(EC.presence_of_element_located((by, value)))

    def submit(self, element) -> None:
        """Click a submit button and wait for the page it leads to (the old one gone, the new one loaded)."""
        element.click()
        self.wait().until(lambda _driver: _gone(element))
        self.wait().until(lambda d: d.execute_script("return document.readyState") == "complete")

    def wait_for_url(self, fragment: str) -> None:
        self.wait().until(EC.url_contains(fragment))

    def wait_for_text(self, css: str, text: str) -> None:
        self.wait().until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, css), text))

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{self.test_name}-{name}.png"
        self.driver.save_screenshot(str(path))
        assert path.stat().st_size > 1000, f"an empty screenshot {path}"
        return path


def _gone(element) -> bool:
    """The element's page was replaced. Chromedriver answers that as a stale element or, while
    the old document is being torn down, as "does not belong to the document"."""
    try:
        element.is_enabled()
    except StaleElementReferenceException:
        return True
    except WebDriverException as exc:
        if "does not belong to the document" in str(exc):
            return True
        raise
    return False
