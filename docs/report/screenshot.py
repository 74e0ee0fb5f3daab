"""Screenshot a neuron-report page in headless Chromium (how docs/report/*.png were made).

    python docs/report/screenshot.py REPORT/neuron_5.html docs/report/neuron_report.png --level 2 --hover 1

`--level` moves the page-wide Grid-CAM slider, `--hover` rests the pointer on that panel (its
original image shows). Uses the browser set-up of the tests (tests/viz/_browser.py).
"""

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("page")
    ap.add_argument("out")
    ap.add_argument("--level", type=int, default=1)
    ap.add_argument("--hover", type=int, default=None, help="panel index (0-based) to hover")
    ap.add_argument("--width", type=int, default=1000)
    ap.add_argument("--height", type=int, default=520)
    a = ap.parse_args()
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    from viz._browser import browser_or_skip, close

    d = browser_or_skip(width=a.width, height=a.height)
    try:
        d.get(Path(a.page).resolve().as_uri())
        s = d.find_element(By.ID, "all-level")
        s.click()
        s.send_keys(Keys.HOME, *([Keys.ARROW_RIGHT] * (a.level - 1)))
        target = d.find_element(By.ID, f"view{a.hover}") if a.hover is not None else d.find_element(By.TAG_NAME, "h1")
        ActionChains(d).move_to_element(target).perform()
        time.sleep(0.3)
        d.save_screenshot(a.out)
    finally:
        close(d)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
