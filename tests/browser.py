"""Open a local HTML page in headless Chromium and report what a reader would see.

How: the Chrome DevTools Protocol over ``--remote-debugging-pipe``. Chromium then reads
protocol commands from file descriptor 3 and writes replies and events to descriptor 4, as
NUL-terminated JSON. That needs only the standard library (``subprocess``, ``os.pipe``,
``json``), so the check adds no dependency at all: no websocket client (not in the stdlib, and
the debugging *port* would also listen on the network), no Selenium with a chromedriver whose
version must match the browser's, no Playwright with its own browser download (impossible
offline). Debian's ``chromium`` package is the only requirement; :func:`find_chromium` says
whether it is there so tests can skip with a reason.

What a check returns (:class:`PageCheck`): the console errors (``console.error``, uncaught
exceptions, and the browser's own error log entries such as a resource that failed to load),
every ``<img>`` with whether it decoded (``HTMLImageElement.decode()`` resolved and
``naturalWidth > 0``), the length of the body's text, and a full-page PNG screenshot with the
share of its pixels that differ from the background colour — a page that renders nothing is
one colour. The script that inspects the page is sent by the protocol, so the pages under test
stay free of JavaScript.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

#: Flags that work in a container without a display, GPU, network or sandbox privileges.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--mute-audio",
)
_BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

# Runs in the page through Runtime.evaluate: image states and the amount of visible text.
_INSPECT = """
(async () => {
  const images = await Promise.all(Array.from(document.images).map(async (img) => {
    let decoded = true;
    try { await img.decode(); } catch (e) { decoded = false; }
    return {src: img.src.slice(0, 60), alt: img.alt, decoded: decoded,
            width: img.naturalWidth, height: img.naturalHeight};
  }));
  return {images: images, text: document.body ? document.body.innerText.trim().length : 0,
          title: document.title};
})()
"""


def find_chromium() -> str | None:
    """The Chromium executable (``$INFODYN_CHROMIUM`` first, then the usual names), or None."""
    override = os.environ.get("INFODYN_CHROMIUM")
    if override:
        return override if shutil.which(override) else None
    return next((path for name in _BROWSERS if (path := shutil.which(name))), None)


@dataclass
class PageCheck:
    """What headless Chromium saw on one page.

    Attributes:
        title: The document title.
        console_errors: Console errors, uncaught exceptions and error log entries.
        images: One dict per ``<img>``: ``src`` (first 60 characters), ``alt``, ``decoded``,
            ``width``, ``height`` (natural size in pixels).
        text_length: Characters of visible body text.
        screenshot: The full-page PNG.
        ink: Share of screenshot pixels whose colour differs from the top-left pixel's.
    """

    title: str
    console_errors: list[str]
    images: list[dict[str, Any]]
    text_length: int
    screenshot: Path
    ink: float

    @property
    def broken_images(self) -> list[dict[str, Any]]:
        """Images that did not decode or have no pixels."""
        return [i for i in self.images if not (i["decoded"] and i["width"] > 0)]

    @property
    def blank(self) -> bool:
        """No text, or a screenshot of (almost) one colour."""
        return self.text_length == 0 or self.ink < 0.001


def _high_fd(fd: int) -> int:
    """Duplicate ``fd`` to a number above 10, so the child's dup2 onto 3 and 4 cannot clash."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


@dataclass
class _Devtools:
    """A DevTools protocol connection over the pipe pair, with the events seen so far."""

    proc: subprocess.Popen[bytes]
    to_browser: int
    from_browser: int
    timeout: float
    events: list[dict[str, Any]] = field(default_factory=list)
    _buffer: bytes = b""
    _next_id: int = 0

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"Chromium sent no reply within {self.timeout:.0f} s")
            ready, _, _ = select.select([self.from_browser], [], [], left)
            if ready:
                chunk = os.read(self.from_browser, 1 << 16)
                if not chunk:
                    raise RuntimeError(f"Chromium closed the pipe (exit code {self.proc.poll()})")
                self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message: dict[str, Any] = json.loads(raw)
        return message

    def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        """Send one command and return its result; events arriving meanwhile are kept."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method} failed: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result
            self.events.append(reply)

    def wait_for(self, method: str, session: str) -> None:
        """Return once the event ``method`` of ``session`` has arrived."""
        deadline = time.monotonic() + self.timeout
        seen = lambda: any(  # noqa: E731
            e.get("method") == method and e.get("sessionId") == session for e in self.events
        )
        while not seen():
            self.events.append(self._read_message(deadline))


def _console_errors(events: list[dict[str, Any]]) -> list[str]:
    errors = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            errors.append(
                " ".join(str(a.get("value", a.get("description"))) for a in params["args"])
            )
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            errors.append(str(details.get("exception", {}).get("description", details)))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            errors.append(f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}")
    return errors


def _ink(png: Path) -> float:
    from matplotlib.image import imread

    pixels = imread(png)
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    return float(np.mean(np.any(pixels != pixels[0, 0], axis=-1)))


def check_page(
    page: Path, screenshot: Path, *, width: int = 1280, timeout: float = 60.0
) -> PageCheck:
    """Load ``page`` in headless Chromium, inspect it, and save a full-page screenshot.

    Args:
        page: A local HTML file.
        screenshot: Where to write the PNG.
        width: Viewport width in CSS pixels (the height follows the page).
        timeout: Seconds allowed for each protocol step.

    Raises:
        FileNotFoundError: Chromium is not installed (see :func:`find_chromium`).
        TimeoutError, RuntimeError: Chromium did not answer or failed.
    """
    browser = find_chromium()
    if browser is None:
        raise FileNotFoundError("no chromium executable; install Debian's chromium package")
    commands_r, commands_w = (_high_fd(fd) for fd in os.pipe())
    replies_r, replies_w = (_high_fd(fd) for fd in os.pipe())

    def child_pipes() -> None:  # in the child: the protocol's fixed descriptors 3 and 4
        os.dup2(commands_r, 3)
        os.dup2(replies_w, 4)

    with tempfile.TemporaryDirectory(prefix="infodyn-chromium-") as profile:
        log = Path(profile) / "stderr.log"
        with log.open("wb") as stderr:
            proc = subprocess.Popen(
                [
                    browser,
                    *CHROMIUM_FLAGS,
                    f"--user-data-dir={profile}/user-data",
                    "--remote-debugging-pipe",
                    "about:blank",
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                pass_fds=(3, 4),
                preexec_fn=child_pipes,
            )
        os.close(commands_r)
        os.close(replies_w)
        devtools = _Devtools(proc, commands_w, replies_r, timeout)
        try:
            target = devtools.call("Target.createTarget", url="about:blank")["targetId"]
            session = devtools.call("Target.attachToTarget", targetId=target, flatten=True)[
                "sessionId"
            ]
            for domain in ("Page", "Runtime", "Log"):
                devtools.call(f"{domain}.enable", session)
            devtools.call(
                "Emulation.setDeviceMetricsOverride",
                session,
                width=width,
                height=900,
                deviceScaleFactor=1,
                mobile=False,
            )
            devtools.call("Page.navigate", session, url=page.resolve().as_uri())
            devtools.wait_for("Page.loadEventFired", session)
            found = devtools.call(
                "Runtime.evaluate",
                session,
                expression=_INSPECT,
                awaitPromise=True,
                returnByValue=True,
            )
            if "exceptionDetails" in found:
                raise RuntimeError(f"page inspection failed: {found['exceptionDetails']}")
            state = found["result"]["value"]
            size = devtools.call("Page.getLayoutMetrics", session)["cssContentSize"]
            shot = devtools.call(
                "Page.captureScreenshot",
                session,
                format="png",
                captureBeyondViewport=True,
                clip={"x": 0, "y": 0, "width": width, "height": size["height"], "scale": 1},
            )
            screenshot.write_bytes(base64.b64decode(shot["data"]))
            errors = _console_errors(devtools.events)
            try:
                devtools.call("Browser.close")
            except RuntimeError:
                pass  # the browser may close the pipe before it answers
        except (TimeoutError, RuntimeError) as err:
            raise type(err)(f"{err}; chromium stderr:\n{log.read_text(errors='replace')}") from err
        finally:
            os.close(commands_w)
            os.close(replies_r)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return PageCheck(
        title=state["title"],
        console_errors=errors,
        images=state["images"],
        text_length=int(state["text"]),
        screenshot=screenshot,
        ink=_ink(screenshot),
    )
