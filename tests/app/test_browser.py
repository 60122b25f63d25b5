"""The demo page in a real browser: Debian's chromium, driven by selenium through the system chromedriver."""

import io
import shutil
import socket
import time
import urllib.request

import pytest
import soundfile

pytest.importorskip("gradio", reason="needs the [demo] extra (gradio), which the [dev] extra includes")
from simba_music.app.ui import can_stream_audio  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None,
                                 reason="needs Debian's chromium and chromium-driver (apt-get install chromium "
                                        "chromium-driver); .ci/run installs them")]
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1280,1600", "--autoplay-policy=no-user-gesture-required")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from simba_music.app.session import MusicSession
    from simba_music.app.ui import build_demo, offline_theme

    port = free_port()
    demo = build_demo(MusicSession(output_dir=tmp_path_factory.mktemp("results")))
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, theme=offline_theme(),
                quiet=True)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS + (f"--user-data-dir={tmp_path / 'profile'}",):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def wait_for(driver, script, timeout=90.0):
    """Polls a JavaScript expression until it returns something truthy; returns it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = driver.execute_script(f"return {script}")
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for: {script}")


def set_number(driver, elem_id, value):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    field = driver.find_element(By.CSS_SELECTOR, f"#{elem_id} input[type=number]")
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(str(value), Keys.TAB)


def test_generate_in_the_browser_then_an_empty_prompt_shows_the_error(served, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get(served)
    prompt = wait_for(browser, "document.querySelector('#prompt textarea')")
    prompt.send_keys("Solo violin plays a slow baroque chorale in D minor; 4/4, 66 BPM.")
    set_number(browser, "duration", 2)
    assert browser.find_element(By.CSS_SELECTOR, "#duration input[type=number]").get_attribute("value") == "2"
    browser.find_element(By.CSS_SELECTOR, "#generate").click()

    # The result player (waveform view) shows a file served by the app: its download link is that file.
    wait_for(browser, "document.querySelector('#spectrogram img')?.complete && "
                      "document.querySelector('#spectrogram img').naturalWidth > 100")
    links = [wait_for(browser, f"document.querySelector('{where} a[download]')?.href")
             for where in ("#result", "#download")]
    if can_stream_audio():  # the live player was fed while generating
        assert browser.execute_script("return document.querySelector('#live audio')?.src")
    browser.save_screenshot(str(tmp_path / "after-generation.png"))
    for url in links:
        with urllib.request.urlopen(url, timeout=30) as response:
            info = soundfile.info(io.BytesIO(response.read()))
        assert info.samplerate == 16000 and info.channels == 1
        assert abs(info.duration - 2.0) < 0.05, info.duration

    # Everything the page loaded came from this server: no CDN fonts or scripts.
    hosts = browser.execute_script(
        "return [...new Set(performance.getEntriesByType('resource').map(e => new URL(e.name).host))]")
    assert set(hosts) <= {served.split("/")[2]}, hosts

    prompt = browser.find_element(By.CSS_SELECTOR, "#prompt textarea")
    prompt.send_keys(Keys.CONTROL, "a")
    prompt.send_keys(Keys.DELETE)
    browser.find_element(By.CSS_SELECTOR, "#generate").click()
    message = wait_for(browser, "document.body.innerText.includes('Prompt: describe the music') && "
                                "document.body.innerText", timeout=30)
    assert "Traceback" not in message
    browser.save_screenshot(str(tmp_path / "empty-prompt-error.png"))


@pytest.fixture(scope="module")
def served_with_player(tmp_path_factory):
    from simba_music.app.live_player import LivePlayer
    from simba_music.app.session import MusicSession
    from simba_music.app.ui import build_demo, offline_theme

    port = free_port()
    session = MusicSession(output_dir=tmp_path_factory.mktemp("results"))
    player = LivePlayer(session)
    demo = build_demo(session, live_player=player)
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, theme=offline_theme(),
                quiet=True)
    yield f"http://127.0.0.1:{port}/", player
    player.stop()
    demo.close()


def wait_until(condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s")


PLAYED = "document.querySelector('#live-audio audio')?.currentTime || 0"


def test_live_tab_keeps_playing_across_a_prompt_change_and_stop_ends_generation(served_with_player, browser,
                                                                               tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    url, player = served_with_player
    browser.get(url)
    wait_for(browser, "[...document.querySelectorAll('button[role=tab]')].find(b => b.innerText.includes('Live'))"
             ).click()
    wait_for(browser, "document.querySelector('#live-start')").click()
    wait_for(browser, f"{PLAYED} > 1", timeout=120)  # the browser is playing the stream
    assert player.running

    second = browser.find_element(By.CSS_SELECTOR, "#live-prompt-1 textarea, #live-prompt-1 input")
    second.send_keys("Church organ plays a moderate baroque chorale in A minor; 4/4, 80 BPM.", Keys.ENTER)
    wait_until(lambda: player.stream is not None and len(player.stream.change_log) == 1)  # the mix only
    assert len(player.stream.mix) == 2
    at_change = browser.execute_script(f"return {PLAYED}")
    wait_for(browser, f"{PLAYED} > {at_change + 2}", timeout=120)  # still playing after the change
    assert not browser.execute_script("return document.querySelector('#live-audio audio').paused")
    underruns = browser.find_element(By.CSS_SELECTOR, "#live-underruns input").get_attribute("value")
    assert underruns.isdigit()
    browser.save_screenshot(str(tmp_path / "live-after-change.png"))

    browser.find_element(By.CSS_SELECTOR, "#live-stop").click()
    wait_until(lambda: not player.running, timeout=30)  # generation ended on the server
