"""A real browser on the web app: Debian's chromium driven by Playwright.

Upload a photo, pick Fast, generate, and check the result <video> really plays in the
browser (readyState, duration = frames / fps, currentTime advancing); then cancel a run
mid-way and check nothing was written. Playwright never downloads a browser here: CI
installs Debian's ``chromium`` package (see .ci/run). Set SVDAPP_SCREENSHOTS=<folder> to
save the before/after screenshots used in the docs.
"""

from __future__ import annotations

import io
import os
import re
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from .app_server import running_app
from .conftest import TINY_OVERRIDES

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
FRAMES, FPS = TINY_OVERRIDES["frames"], 4  # a 1-second clip: long enough to watch currentTime move

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed: apt-get install -y chromium"),
]


@pytest.fixture
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (the [test] extra)")
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser):
    return browser.new_page(viewport={"width": 1440, "height": 1000})


def screenshot(page, name: str) -> None:
    folder = os.environ.get("SVDAPP_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / name), full_page=True)


def set_number(page, field: str, value) -> None:
    box = page.locator(f"#field-{field} input[type=number]")
    box.fill(str(value))
    box.press("Enter")


def shown_numbers(page, fields) -> dict:
    return {f: page.locator(f"#field-{f} input[type=number]").input_value() for f in fields}


def open_section(page, section: str, field: str) -> None:
    """Open a folded accordion as a user does (the page folds them once it has loaded)."""
    inside = page.locator(f"#field-{field}")
    inside.wait_for(state="hidden", timeout=60_000)
    page.locator(f"#{section} button").first.click()
    inside.wait_for(state="visible")


def fill_form(page, photo: Path, steps: int) -> None:
    """Photo, Fast preset, then the tiny sizes (a full-size Fast clip would take hours on a CPU),
    each typed once, right after opening Advanced: a value that does not stay fails the test."""
    page.wait_for_selector("#generate-btn")
    page.set_input_files("#photo input[type=file]", str(photo))
    page.wait_for_selector("#preview img", timeout=30_000)
    page.locator("#preset label", has_text="Fast").click()
    page.wait_for_function("document.querySelector('#preset-info')?.innerText.includes('15 frames')")
    open_section(page, "advanced", "frames")
    wanted = {**TINY_OVERRIDES, "fps": FPS, "steps": steps}
    page.locator("#field-memory input").click()
    page.locator("li[role=option]", has_text=wanted.pop("memory")).click()
    for field, value in wanted.items():
        set_number(page, field, value)
    try:
        page.wait_for_function("""(want) => Object.entries(want).every(([f, v]) =>
            Number(document.querySelector(`#field-${f} input[type=number]`)?.value) === v)""", arg=wanted,
                               timeout=10_000)
    except Exception:
        raise AssertionError(f"the form shows {shown_numbers(page, wanted)}, not the {wanted} typed") from None
    assert page.locator("#field-memory input").input_value() == "cpu"


def shown_image(page, selector: str, url: str) -> np.ndarray:
    """The pixels of an <img> on the page, fetched as the browser fetched them."""
    from urllib.parse import urljoin
    src = page.locator(f"{selector} img").get_attribute("src")
    return np.asarray(Image.open(io.BytesIO(page.request.get(urljoin(url, src)).body())).convert("RGB"))


def video_state(page) -> dict | None:
    return page.evaluate("""() => { const v = document.querySelector('#result-video video');
        return v ? {ready: v.readyState, duration: v.duration, time: v.currentTime, muted: v.muted, loop: v.loop}
                 : null; }""")


def results(outputs: Path) -> list[Path]:
    return sorted(outputs.iterdir()) if outputs.is_dir() else []


def test_generate_in_the_browser_and_the_video_plays(app_env, tmp_path, product_photo, page):
    with running_app(app_env, tmp_path) as url:
        page.goto(url)
        page.wait_for_function("document.querySelector('#env-checks')?.innerText.includes('Model access') ?? false",
                               timeout=90_000)
        fill_form(page, product_photo, steps=TINY_OVERRIDES["steps"])
        screenshot(page, "before.png")

        page.click("#generate-btn")
        page.wait_for_function("() => { const v = document.querySelector('#result-video video');"
                               " return v && v.readyState >= 2; }", timeout=120_000)
        first = video_state(page)
        assert first["ready"] >= 2 and first["muted"] and first["loop"]
        assert first["duration"] == pytest.approx(FRAMES / FPS, abs=0.05)
        deadline = time.monotonic() + 10
        while video_state(page)["time"] == first["time"]:
            assert time.monotonic() < deadline, "the result video does not play (currentTime stays put)"
            page.wait_for_timeout(100)

        summary = re.compile(rf"Seed \d+ · {FRAMES} frames · 128×64 · {FPS} fps")
        try:  # the text may render a tick after the video
            page.locator("#result-info", has_text=summary).wait_for(timeout=15_000)
        except Exception:
            raise AssertionError(f"unexpected result summary: {page.locator('#result-info').inner_text()}") from None
        assert page.locator("#download-btn").is_visible()
        assert page.locator("#history img").count() == 1
        # D2's preview is exactly the frame the model received (the result's input.png), pixel for pixel
        page.locator("#preview", has_text="Model input · 128×64").wait_for()
        (made,) = results(tmp_path / "outputs")
        np.testing.assert_array_equal(shown_image(page, "#preview", url),
                                      np.asarray(Image.open(made / "input.png").convert("RGB")))
        page.wait_for_function("!document.querySelector('#generate-btn').disabled")
        page.locator("#advanced button").first.click()  # fold Advanced away for the screenshot
        screenshot(page, "after.png")

        page.locator("#history img").first.click()  # the history item shows with where it came from
        page.locator("#result-info", has_text="from history:").wait_for(timeout=15_000)
        page.click("#reuse-btn")  # "Use these settings" puts the result's settings back into the form
        page.locator("#preset-info", has_text=re.compile(r"Settings of seed \d+ loaded")).wait_for(timeout=15_000)
        page.locator("#advanced button").first.click()
        assert shown_numbers(page, ["steps", "width", "height"]) == \
            {"steps": str(TINY_OVERRIDES["steps"]), "width": "128", "height": "64"}
    assert len(results(tmp_path / "outputs")) == 1


def test_errors_are_readable_and_cancel_mid_run_writes_nothing(app_env, tmp_path, product_photo, page):
    with running_app(app_env, tmp_path) as url:
        page.goto(url)
        page.click("#generate-btn")  # no photo yet: a message with its fix, not a traceback
        toast = page.locator(".toast-body", has_text="No product photo yet.")
        toast.wait_for(timeout=30_000)
        assert "Drop a photo into D2" in toast.inner_text() and "Traceback" not in toast.inner_text()
        page.wait_for_function("!document.querySelector('#generate-btn').disabled", timeout=10_000)

        fill_form(page, product_photo, steps=150)  # long enough to cancel in the middle
        page.click("#generate-btn")
        page.get_by_text(re.compile(r"Denoising step [1-9]\d*/150")).first.wait_for(timeout=120_000)
        page.click("#cancel-btn")
        page.locator("#run-status", has_text="Cancelled — nothing was written.").wait_for(timeout=60_000)
        assert page.locator("#generate-btn").is_enabled()
        assert video_state(page) is None  # no result appeared
    assert results(tmp_path / "outputs") == []


def test_takes_side_by_side_and_keeping_another(app_env, tmp_path, product_photo, page):
    """Two classic takes (camera moves) shown with their scores; keeping the other one makes it
    the video."""
    with running_app(app_env, tmp_path) as url:
        page.goto(url)
        page.wait_for_selector("#generate-btn")
        page.set_input_files("#photo input[type=file]", str(product_photo))
        page.wait_for_selector("#preview img", timeout=30_000)
        open_section(page, "finishing", "engine")
        page.locator("#field-engine label", has_text="Classic motion").click()
        set_number(page, "seconds", 1)
        set_number(page, "takes", 2)
        page.wait_for_function("Number(document.querySelector('#field-takes input[type=number]').value) === 2")
        page.click("#generate-btn")
        page.locator("#takes img").nth(1).wait_for(timeout=120_000)
        captions = page.locator("#takes").inner_text()
        assert re.search(r"\d\.\d\d( kept)? · 1 · Slow push-in", captions), captions
        assert re.search(r"\d\.\d\d( kept)? · 2 · Pull-out", captions), captions
        other = 0 if re.search(r"kept · 2 ·", captions) else 1
        page.locator("#takes img").nth(other).click()
        keep = page.locator("#keep-take-btn")
        keep.wait_for(timeout=15_000)
        screenshot(page, "takes.png")
        assert f"Keep take {other + 1} instead" in keep.inner_text()
        keep.click()
        camera = "Slow push-in" if other == 0 else "Pull-out"
        page.locator("#result-info", has_text=f"camera {camera}").wait_for(timeout=120_000)
        assert page.locator("#takes img").count() == 0  # one take now
    assert len(results(tmp_path / "outputs")) == 2


def make_classic_video(page, photo: Path) -> None:
    """A short classic video from the page: photo, Engine & finishing → classic, 0.5 s, Generate."""
    page.wait_for_selector("#generate-btn")
    page.set_input_files("#photo input[type=file]", str(photo))
    open_section(page, "finishing", "engine")
    page.locator("#field-engine label", has_text="Classic motion").click()
    page.locator("#field-seconds input").fill("0.5")
    page.locator("#field-seconds input").press("Enter")
    page.locator("#generate-btn", has_text="classic").wait_for()
    page.click("#generate-btn")
    page.locator("#run-status", has_text="Done:").wait_for(timeout=120_000)


def test_a_shared_app_lists_each_session_only_its_own_videos(app_env, tmp_path, product_photo, browser):
    """Reachable by others (a non-loopback --host): two browser sessions each make a video; each sees
    only its own in History, and nothing of the other's is on its page."""
    (tmp_path / "alice.jpg").write_bytes(product_photo.read_bytes())
    Image.open(product_photo).transpose(Image.Transpose.FLIP_TOP_BOTTOM).save(tmp_path / "bob.jpg")
    with running_app(app_env, tmp_path, "--host", "0.0.0.0") as url:
        sessions = {name: browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
                    for name in ("alice", "bob")}
        for page in sessions.values():
            page.goto(url)
        make_classic_video(sessions["alice"], tmp_path / "alice.jpg")
        make_classic_video(sessions["bob"], tmp_path / "bob.jpg")
        folders = {p.name.split("-")[2]: p.name for p in results(tmp_path / "outputs")}
        assert sorted(folders) == ["alice", "bob"]
        for name, page in sessions.items():
            other = folders["bob" if name == "alice" else "alice"]
            assert page.locator("#history img").count() == 1
            own = np.asarray(Image.open(tmp_path / "outputs" / folders[name] / "input.png").convert("RGB"))
            np.testing.assert_array_equal(shown_image(page, "#history", url), own)  # its own thumbnail
            assert other not in page.content(), f"{name} is shown {other}"
        sessions["bob"].reload()  # a new session: nothing of anyone's is listed
        sessions["bob"].wait_for_selector("#generate-btn")
        sessions["bob"].locator("#history").wait_for()
        assert sessions["bob"].locator("#history img").count() == 0
        assert not any(folder in sessions["bob"].content() for folder in folders.values())
