"""A local web server for the page (web/) and one TF.js model: the browser check's, and
`python -m image_tfx.web`'s.

Routes: the page's own files (index.html, app.js, style.css), `vendor/tf.min.js` (TensorFlow.js,
installed by `make install`), `model/*` (the version's tfjs/ folder), `model_card.json`, and any
extra in-memory files under `check/` (the pipeline's browser check puts its examples there).
"""

import http.server
import importlib.util
import mimetypes
import os
import threading
from typing import Dict, Optional

from tfx.dsl.io import fileio

from image_tfx.components import pushed_layout
from image_tfx.components import storage

# The page a person uses (web/, package data of image_tfx.web): the check runs the model there.
# Found by the package's location, without importing any code of web/.
WEB_DIR = importlib.util.find_spec('image_tfx.web').submodule_search_locations[0]
PAGE_FILES = ('index.html', 'app.js', 'style.css')
TFJS_FILE = os.path.join(WEB_DIR, 'vendor', 'tf.min.js')


class SetupError(RuntimeError):
    """Something the page needs is missing; the message says what to do."""


def check_setup() -> None:
    if not os.path.isfile(TFJS_FILE):
        raise SetupError(f'{TFJS_FILE}: missing; `make install` puts TensorFlow.js there')


class Site:
    """What the server answers: path -> bytes, read when asked."""

    def __init__(self, tfjs_dir: str, model_card: Optional[str] = None,
                 extra: Optional[Dict[str, bytes]] = None):
        self.tfjs_dir = tfjs_dir
        self.model_card = model_card
        self.extra = extra or {}

    def get(self, path: str) -> Optional[bytes]:
        path = path.split('?', 1)[0].lstrip('/') or 'index.html'
        if path in PAGE_FILES:
            return _read(os.path.join(WEB_DIR, path))
        if path == 'vendor/tf.min.js':
            return _read(TFJS_FILE)
        if path == 'model_card.json':
            if not self.model_card:  # a model being checked before its card is written
                return b'{}'
            return storage.read_bytes(self.model_card) if fileio.exists(self.model_card) else None
        folder, _, name = path.partition('/')
        if folder == 'model' and name and '/' not in name and not name.startswith('.'):
            file = storage.join(self.tfjs_dir, name)
            return storage.read_bytes(file) if fileio.exists(file) else None
        if folder == 'check':
            return self.extra.get(name)
        return None


def _read(path: str) -> Optional[bytes]:
    if not os.path.isfile(path):
        return None
    with open(path, 'rb') as f:
        return f.read()


def for_version(version_dir: str) -> Site:
    return Site(pushed_layout.extra(version_dir, pushed_layout.TFJS_DIR),
                pushed_layout.extra(version_dir, pushed_layout.MODEL_CARD_FILE))


class _Handler(http.server.BaseHTTPRequestHandler):
    site: Site

    def do_GET(self):  # noqa: N802 (http.server's name)
        body = self.site.get(self.path)
        if body is None:
            self.send_error(404)
            return
        name = self.path.split('?', 1)[0].rstrip('/').rsplit('/', 1)[-1] or 'index.html'
        kind = mimetypes.guess_type(name)[0] or 'application/octet-stream'
        self.send_response(200)
        self.send_header('Content-Type', kind)
        self.send_header('Content-Length', str(len(body)))
        self.send_header('Cache-Control', 'no-store')
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # quiet: the CLI prints the URL, the page shows errors
        pass


class Server:
    """The site on 127.0.0.1, in a background thread. Use as a context manager."""

    def __init__(self, site: Site, port: int = 0):
        handler = type('Handler', (_Handler,), {'site': site})
        self._httpd = http.server.ThreadingHTTPServer(('127.0.0.1', port), handler)
        self.url = f'http://127.0.0.1:{self._httpd.server_address[1]}/'
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> 'Server':
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def serve_forever(self) -> None:
        self._httpd.serve_forever()
