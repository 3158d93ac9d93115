"""Headless Chromium driven over the DevTools protocol (Debian's chromium, websocket-client).

Enough of the protocol for checking a page as a person uses it: navigate, run script, press and
move the mouse (the page sees real pointer events), choose a file in an <input type=file>, take
a screenshot, and collect what the console and the network reported as errors.
"""

import base64
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from typing import Any, Dict, List, Optional

# Debian's package installs /usr/bin/chromium.
BINARY_NAMES = ('chromium', 'chromium-browser', 'google-chrome')
# Without the networking switches Chromium tries to reach Google's hosts, which a closed
# network refuses; as root (containers, CI) it needs --no-sandbox.
_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
          '--disable-background-networking', '--disable-component-update', '--disable-sync',
          '--disable-extensions', '--remote-allow-origins=*', '--remote-debugging-port=0']


class BrowserError(RuntimeError):
    """Chromium failed to start or a page script failed; the message says how."""


def find_chromium() -> Optional[str]:
    return next(filter(None, map(shutil.which, BINARY_NAMES)), None)


class Chromium:
    """One headless Chromium with one page. Use as a context manager."""

    def __init__(self, binary: Optional[str] = None, width: int = 1000, height: int = 900,
                 timeout: float = 60):
        import websocket
        self.binary = binary or find_chromium()
        if not self.binary:
            raise BrowserError('no Chromium found (install Debian\'s chromium package)')
        self.timeout = timeout
        self.errors: List[str] = []
        self._profile = tempfile.mkdtemp(prefix='chromium-')
        self._process = subprocess.Popen(
            [self.binary, *_FLAGS, f'--user-data-dir={self._profile}',
             f'--window-size={width},{height}', 'about:blank'],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        connected = False
        try:
            port = self._port()
            with urllib.request.urlopen(f'http://127.0.0.1:{port}/json/list', timeout=10) as r:
                page = next(t for t in json.load(r) if t['type'] == 'page')
            self._socket = websocket.create_connection(
                page['webSocketDebuggerUrl'], timeout=timeout, suppress_origin=True)
            connected = True
        finally:
            if not connected:  # whatever failed propagates; the browser must not outlive it
                self.close()
        self._ids = itertools.count(1)
        for domain in ('Page', 'Runtime', 'Log'):
            self.send(f'{domain}.enable')

    def _port(self) -> int:
        path = os.path.join(self._profile, 'DevToolsActivePort')
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise BrowserError(f'{self.binary} exited with {self._process.returncode}')
            if os.path.exists(path):
                with open(path) as f:
                    first = f.readline().strip()
                if first.isdigit():
                    return int(first)
            time.sleep(0.1)
        raise BrowserError(f'{self.binary} did not open its DevTools port')

    def __enter__(self) -> 'Chromium':
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        socket = getattr(self, '_socket', None)
        if socket is not None:
            socket.close()
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        shutil.rmtree(self._profile, ignore_errors=True)

    def send(self, method: str, **params) -> Dict[str, Any]:
        """Sends one command and returns its result; events seen meanwhile are recorded."""
        import websocket
        ident = next(self._ids)
        try:
            self._socket.send(json.dumps({'id': ident, 'method': method, 'params': params}))
        except websocket.WebSocketException as e:
            raise BrowserError(f'{method}: Chromium went away ({e})') from e
        while True:
            try:
                message = json.loads(self._socket.recv())
            except websocket.WebSocketException as e:  # a timeout, or Chromium gone
                raise BrowserError(f'{method}: no answer from Chromium ({e})') from e
            if message.get('id') == ident:
                if 'error' in message:
                    raise BrowserError(f'{method}: {message["error"].get("message")}')
                return message.get('result', {})
            self._record(message)

    def _record(self, event: Dict[str, Any]) -> None:
        method, params = event.get('method'), event.get('params', {})
        if method == 'Runtime.consoleAPICalled' and params.get('type') in ('error', 'assert'):
            self.errors.append('console: ' + ' '.join(
                str(a.get('value', a.get('description', ''))) for a in params.get('args', [])))
        elif method == 'Runtime.exceptionThrown':
            details = params.get('exceptionDetails', {})
            self.errors.append('exception: ' + details.get('exception', {}).get(
                'description', details.get('text', '')))
        elif method == 'Log.entryAdded' and params.get('entry', {}).get('level') == 'error':
            entry = params['entry']
            self.errors.append(f'{entry.get("source")}: {entry.get("text")} {entry.get("url", "")}')

    def evaluate(self, expression: str, timeout: Optional[float] = None) -> Any:
        """The value of a script expression in the page (promises awaited)."""
        result = self.send('Runtime.evaluate', expression=expression, awaitPromise=True,
                           returnByValue=True, timeout=int(1000 * (timeout or self.timeout)))
        if 'exceptionDetails' in result:
            details = result['exceptionDetails']
            raise BrowserError(details.get('exception', {}).get('description')
                               or details.get('text', 'script failed'))
        return result.get('result', {}).get('value')

    def open(self, url: str, ready: str = 'document.readyState === "complete"') -> None:
        """Navigates and waits until the expression `ready` is true."""
        self.send('Page.navigate', url=url)
        self.wait_for(ready)

    def wait_for(self, expression: str, timeout: Optional[float] = None) -> None:
        deadline = time.monotonic() + (timeout or self.timeout)
        while time.monotonic() < deadline:
            try:
                if self.evaluate(f'Boolean({expression})'):
                    return
            except BrowserError:
                pass  # the page is between documents
            time.sleep(0.1)
        raise BrowserError(f'timed out waiting for {expression}'
                           + (f'; page errors: {self.errors}' if self.errors else ''))

    def drag(self, points: List[tuple]) -> None:
        """Presses the left button at the first point, moves through the rest, releases."""
        (x0, y0), last = points[0], points[-1]
        self.send('Input.dispatchMouseEvent', type='mousePressed', x=x0, y=y0, button='left',
                  buttons=1, clickCount=1)
        for x, y in points[1:]:
            self.send('Input.dispatchMouseEvent', type='mouseMoved', x=x, y=y, button='left',
                      buttons=1)
        self.send('Input.dispatchMouseEvent', type='mouseReleased', x=last[0], y=last[1],
                  button='left', buttons=0, clickCount=1)

    def set_file(self, selector: str, path: str) -> None:
        """Chooses a file in an <input type=file>, as a person picking one would."""
        root = self.send('DOM.getDocument')['root']['nodeId']
        node = self.send('DOM.querySelector', nodeId=root, selector=selector)['nodeId']
        self.send('DOM.setFileInputFiles', nodeId=node, files=[os.path.abspath(path)])

    def screenshot(self, path: str) -> None:
        data = self.send('Page.captureScreenshot', format='png')['data']
        with open(path, 'wb') as f:
            f.write(base64.b64decode(data))
