"""A headless Chromium for the static-page tests (Debian's `chromium` + `chromium-driver`, selenium).

`browser_or_skip()` returns a started driver, or skips the test with the reason (no selenium, no
Chromium, no chromedriver, or the browser does not start). The closed network refuses
background connections, so every background service is switched off and each driver gets a
fresh profile folder."""

from __future__ import annotations

import shutil
import tempfile

import pytest

CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
DRIVER = ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver")


def _first(paths, name):
    import os

    for p in paths:
        if os.path.exists(p):
            return p
    return shutil.which(name)


def browser_or_skip(download_dir=None, width=1200, height=900):
    """A headless Chromium driven by selenium, or `pytest.skip` with the reason."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("selenium is not installed (pip install selenium; it is in the test extras)")
    binary = _first(CHROMIUM, "chromium")
    driver = _first(DRIVER, "chromedriver")
    if binary is None:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    if driver is None:
        pytest.skip("chromedriver is not installed (apt-get install chromium-driver)")
    profile = tempfile.mkdtemp(prefix="tfinterp-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = binary
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--disable-extensions", "--allow-file-access-from-files",
                 f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        opts.add_argument(flag)
    if download_dir is not None:
        opts.add_experimental_option("prefs", {"download.default_directory": str(download_dir),
                                               "download.prompt_for_download": False})
    try:
        d = webdriver.Chrome(service=Service(executable_path=driver), options=opts)
    except Exception as e:  # the browser is there but does not start here
        shutil.rmtree(profile, ignore_errors=True)
        pytest.skip(f"Chromium did not start: {type(e).__name__}: {str(e).splitlines()[0][:200]}")
    d.set_page_load_timeout(20)
    d._tfinterp_profile = profile
    return d


def close(driver):
    try:
        driver.quit()
    finally:
        shutil.rmtree(getattr(driver, "_tfinterp_profile", ""), ignore_errors=True)
