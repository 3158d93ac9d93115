"""Opening a page in headless Chromium (Debian's package), as a person's browser would."""

import os
import re
import shutil
import subprocess
import tempfile
from typing import List, Tuple

CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser')
# Without the networking switches Chromium tries to reach Google's hosts, which this closed
# network refuses; the machine runs tests as root, hence --no-sandbox.
_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
          '--disable-background-networking', '--disable-component-update', '--disable-sync',
          '--enable-logging=stderr', '--v=0']
# e.g. [..:INFO:CONSOLE:1] "Uncaught ReferenceError: f is not defined", source: file:///x.html (1)
_CONSOLE = re.compile(r':CONSOLE[:(]\d+\)?\] (.*)')


def render(page: str, screenshot: str, width: int = 1200, height: int = 3000
           ) -> Tuple[str, List[str]]:
    """(the DOM after rendering, console messages) of a local HTML file; saves a screenshot."""
    url = 'file://' + os.path.abspath(page)
    messages, dom = [], ''
    screenshot_args = [f'--screenshot={screenshot}', f'--window-size={width},{height}']
    for extra in (['--dump-dom'], screenshot_args):
        with tempfile.TemporaryDirectory() as profile:
            result = subprocess.run([CHROMIUM, *_FLAGS, f'--user-data-dir={profile}', *extra, url],
                                    capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f'chromium failed ({result.returncode}): {result.stderr[-2000:]}')
        if extra == ['--dump-dom']:
            dom = result.stdout
        messages += [m.group(1) for m in map(_CONSOLE.search, result.stderr.splitlines()) if m]
    return dom, sorted(set(messages))
