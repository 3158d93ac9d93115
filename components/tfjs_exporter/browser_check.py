"""The TF.js model checked where it runs: in Chromium, on the page a person uses.

The page loads the converted model and classifies the given images; the classes are compared
with the SavedModel's, and the single-image latency is measured, all in the browser.
"""

import json
from typing import Any, Dict, Optional, Sequence

import numpy as np

from image_tfx.components.tfjs_exporter import cdp
from image_tfx.components.tfjs_exporter import server


def in_browser(tfjs_dir: str, model_card: Optional[str], pixels: np.ndarray,
               expected: Sequence[int], chromium: Optional[str] = None) -> Dict[str, Any]:
    """{examples, agreement, latency_ms, backend, tfjs_version, errors} measured in Chromium;
    only `errors` when the page could not load the model."""
    server.check_setup()
    site = server.Site(tfjs_dir, model_card, extra={
        'pixels.bin': np.asarray(pixels, dtype=np.uint8).tobytes(),
        'expected.json': json.dumps([int(c) for c in expected]).encode()})
    with server.Server(site) as web, cdp.Chromium(chromium, timeout=120) as browser:
        browser.open(web.url, ready='document.body.dataset.ready')
        if browser.evaluate('document.body.dataset.ready') != 'true':
            info = browser.evaluate('document.getElementById("model-info").textContent')
            return {'errors': [info] + browser.errors}
        result = browser.evaluate("imageTfx.check('check/pixels.bin', 'check/expected.json')")
        result['errors'] = list(browser.errors)
    return result
