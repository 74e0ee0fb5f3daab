"""The neuron report and the I-metric quiz pages in a real browser (headless Chromium + selenium):
the slider switches the Grid-CAM crop size, hover shows the original, the quiz records 3 picks
and produces the answers JSON. Skipped with the reason where Chromium / selenium are absent."""

import json
import time
from pathlib import Path

import numpy as np
import pytest

from viz._browser import browser_or_skip, close

DOCS = Path(__file__).resolve().parents[2] / "docs" / "report"


def _png_pixels(driver):
    from io import BytesIO

    from PIL import Image

    return np.asarray(Image.open(BytesIO(driver.get_screenshot_as_png())).convert("RGB"), np.int16)


def _hand_made_report(out):
    """Two neurons, 4 panels each: images and maps known by construction (each level's map lights
    a different quarter), written by the HTML writer alone."""
    from tfinterp.viz.report_html import write_neuron_report

    rng = np.random.default_rng(0)
    neurons = []
    for c in (0, 3):
        panels = []
        for j in range(4):
            img = rng.random((16, 16, 1)).astype(np.float32)
            maps = []
            for k in range(4):
                m = np.zeros((16, 16), np.float32)
                m[(k // 2) * 8:(k // 2) * 8 + 8, (k % 2) * 8:(k % 2) * 8 + 8] = 1.0
                maps.append(m)
            panels.append({"title": f"panel {j}", "image": img, "maps": maps, "caption": f"activation {j}"})
        neurons.append({"channel": c, "panels": panels, "stats": {"top activation": 1.5}})
    return write_neuron_report(out, neurons, layer="conv", model="toy", grid=8, sizes=[2, 3, 4, 5])


def check_report_page(driver, index_path, screenshot=None):
    """Open a neuron page from the index, move a slider and hover; assert that the view changed."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    driver.get(Path(index_path).resolve().as_uri())
    links = driver.find_elements(By.CSS_SELECTOR, "table.index a")
    assert links, "the index lists no neuron"
    links[0].click()
    assert "neuron" in driver.title
    view = driver.find_element(By.ID, "view0")
    src0, level0 = view.get_attribute("src"), view.get_attribute("data-level")
    assert level0 == "1" and src0.endswith("_l1.png")
    px0 = _png_pixels(driver)
    slider = driver.find_element(By.CSS_SELECTOR, "input.level[data-target='view0']")
    # move the slider as a user does: focus it and press the right arrow twice (level 1 -> 3)
    ActionChains(driver).move_to_element(driver.find_element(By.TAG_NAME, "h1")).perform()
    slider.click()
    from selenium.webdriver.common.keys import Keys

    slider.send_keys(Keys.HOME, Keys.ARROW_RIGHT, Keys.ARROW_RIGHT)
    time.sleep(0.2)
    assert view.get_attribute("data-level") == "3"
    assert view.get_attribute("src").endswith("_l3.png") and view.get_attribute("src") != src0
    ActionChains(driver).move_to_element(driver.find_element(By.TAG_NAME, "h1")).perform()
    time.sleep(0.2)
    px1 = _png_pixels(driver)
    assert np.abs(px1 - px0).sum() > 0, "moving the slider did not change the pixels"
    # the page-wide slider moves every panel
    all_level = driver.find_element(By.ID, "all-level")
    all_level.click()
    all_level.send_keys(Keys.END)
    time.sleep(0.2)
    levels = {v.get_attribute("data-level") for v in driver.find_elements(By.CSS_SELECTOR, "img.view")}
    assert levels == {"4"}
    # hover: the original image
    ActionChains(driver).move_to_element(view).perform()
    time.sleep(0.2)
    assert view.get_attribute("data-view") == "original"
    assert view.get_attribute("src") == Path(view.get_attribute("data-original")).name or \
        view.get_attribute("src").endswith(view.get_attribute("data-original"))
    px2 = _png_pixels(driver)
    assert np.abs(px2 - px1).sum() > 0, "hovering did not change the pixels"
    if screenshot is not None:
        Path(screenshot).parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(screenshot))
    ActionChains(driver).move_to_element(driver.find_element(By.TAG_NAME, "h1")).perform()
    time.sleep(0.2)
    assert view.get_attribute("data-view") == "gridcam" and view.get_attribute("src").endswith("_l4.png")
    # every image on the page loaded (file:// paths resolve)
    broken = driver.execute_script(
        "return Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).length")
    assert broken == 0


def test_neuron_report_page_slider_and_hover(tmp_path):
    pages = _hand_made_report(tmp_path / "report")
    driver = browser_or_skip()
    try:
        check_report_page(driver, pages["index"], screenshot=tmp_path / "report.png")
    finally:
        close(driver)
    assert (tmp_path / "report.png").stat().st_size > 1000


def check_quiz_page(driver, page, picks=(0, 4, 8)):
    """Click 3 options of the first question (and a 4th, refused), submit; the answers JSON."""
    from selenium.webdriver.common.by import By

    driver.get(Path(page).resolve().as_uri())
    driver.find_element(By.ID, "participant").send_keys("tester")
    for k in picks:
        driver.find_element(By.ID, f"q0-o{k}").click()
    extra = [k for k in range(9) if k not in picks][0]
    driver.find_element(By.ID, f"q0-o{extra}").click()          # a 4th pick is refused
    assert "picked" not in driver.find_element(By.ID, f"q0-o{extra}").get_attribute("class")
    driver.find_element(By.ID, f"q0-o{picks[0]}").click()        # unpick and pick again
    driver.find_element(By.ID, f"q0-o{picks[0]}").click()
    driver.find_element(By.ID, "submit").click()
    time.sleep(0.3)
    doc = json.loads(driver.find_element(By.ID, "result").get_attribute("value"))
    href = driver.find_element(By.ID, "download").get_attribute("href")
    assert href.startswith("blob:")
    return doc


def test_quiz_page_records_answers(tmp_path):
    from tfinterp.metrics import imetric as im
    from tfinterp.viz.report_html import write_image, write_quiz_page

    rng = np.random.default_rng(1)
    for i in range(12):
        write_image(tmp_path / "img" / f"x_{i}.png", rng.random((8, 8, 1)))
    qs = [{"question": q, "shown": [{"src": "img/x_11.png", "caption": "shown"}],
           "options": [f"img/x_{i}.png" for i in range(9)]} for q in range(2)]
    page = write_quiz_page(tmp_path / "quiz_fv.html", "build1", "fv", "feature visualization only", qs,
                           kind=im.RESPONSE_KIND, key_file="/x/key.json")
    driver = browser_or_skip(download_dir=tmp_path / "downloads")
    try:
        doc = check_quiz_page(driver, page)
    finally:
        close(driver)
    assert doc["kind"] == im.RESPONSE_KIND and doc["build"] == "build1" and doc["condition"] == "fv"
    assert doc["participant"] == "tester" and doc["key_file"] == "/x/key.json"
    assert doc["answers"] == [{"question": 0, "picked": [0, 4, 8]}, {"question": 1, "picked": []}]
    # the scorer reads what the page wrote
    key = {"kind": im.KEY_KIND, "build": "build1",
           "questions": [{"question": 0, "options": list(range(9)), "correct_positions": [0, 1, 8]},
                         {"question": 1, "options": list(range(9)), "correct_positions": [2, 3, 4]}]}
    s = im.score_response(key, doc)
    assert s["hits"] == [2, 0] and s["unanswered"] == 0
