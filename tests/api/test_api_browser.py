"""The dashboard in headless Chromium (Debian's ``chromium``, driven by Playwright) against a real
uvicorn server: the study page of a finished study draws the Pareto front with as many points as
``GET /pareto`` returns, a click on a point opens that trial's page, which draws its per-layer bars.
Screenshots go to ``test-artifacts/``."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import httpx
import pytest

from nas.api import create_app
from tests.api.conftest import FAKE, STUDY

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium "
                                 "(apt-get install chromium; scripts/system-deps.sh)")]


@pytest.fixture(scope="module")
def server(settings):
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.js_errors = errors
        yield pg
        browser.close()


POINTS = "#pareto .scatterlayer .trace .points path"


def _isolated_point(page) -> int:
    """Index of a drawn point with no other point within 14 px (a click cannot hit a neighbour)."""
    boxes = page.eval_on_selector_all(POINTS, "els => els.map(e => { const b = e.getBoundingClientRect(); "
                                              "return [b.x + b.width / 2, b.y + b.height / 2]; })")
    for i, (x, y) in enumerate(boxes):
        if all((x - u) ** 2 + (y - v) ** 2 > 14 ** 2 for j, (u, v) in enumerate(boxes) if j != i):
            return i
    return 0


def _click_point(page, index: int) -> int:
    """Click the ``index``-th drawn point; returns the trial id plotly holds for it."""
    expected = page.evaluate(f"""() => {{
        const els = [...document.querySelectorAll('{POINTS}')];
        return els[{index}].__data__.data[0];
    }}""")
    box = page.locator(POINTS).nth(index).bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_selector(".hoverlayer .hovertext", timeout=5000)
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    return int(expected)


@pytest.mark.parametrize("study", [FAKE, STUDY])
def test_pareto_plot_click_through_to_trial(server, page, study):
    front = httpx.get(f"{server}/api/studies/{study}/pareto").json()["points"]
    assert front
    page.goto(f"{server}/studies/{study}")
    page.wait_for_selector(POINTS, timeout=20_000)
    assert page.locator(POINTS).count() == len(front)
    assert page.eval_on_selector("#pareto", "gd => gd.data.reduce((n, t) => n + t.x.length, 0)") == len(front)
    if study == STUDY:  # real trials carry energy (issue 19): energy per inference on the x axis
        before = page.eval_on_selector("#x-axis", "e => e.value")
        page.select_option("#x-axis", "energy_uj")
        xs = page.eval_on_selector("#pareto", "gd => gd.data.flatMap(t => Array.from(t.x))")
        assert sorted(xs) == pytest.approx(sorted(p["energy_uj"] for p in front))
        assert page.eval_on_selector("#pareto", "gd => gd.layout.xaxis.title.text").startswith("energy per inference")
        page.select_option("#x-axis", before)
    page.wait_for_selector("#hv .scatterlayer .trace", timeout=10_000)
    page.wait_for_selector("#parcoords .parcoords", timeout=10_000)
    assert page.locator("#trials tbody tr").count() > 0
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"study-{study}.png"), full_page=True)

    index = _isolated_point(page)
    trial_id = _click_point(page, index)
    page.wait_for_url(f"{server}/trials/{trial_id}", timeout=10_000)
    number = next(p["number"] for p in front if p["trial_id"] == trial_id)
    assert page.locator("h1").inner_text().startswith(f"Trial {number}")
    detail = httpx.get(f"{server}/api/trials/{trial_id}").json()
    page.wait_for_selector("#layer-latency .bars path", timeout=10_000)
    assert page.locator("#layer-latency .bars path").count() == len(detail["devices"][0]["layers"])
    if detail["has_tflite"]:
        href = page.get_attribute("#download", "href")
        assert httpx.get(server + href).content[4:8] == b"TFL3"
        page.wait_for_selector("#all-profiles tbody tr:nth-child(5)", timeout=20_000)
    page.screenshot(path=str(ARTIFACTS / f"trial-{study}.png"), full_page=True)
    assert not page.js_errors, page.js_errors
