"""The model in the browser: TensorFlow.js conversion, the web page, and Chromium to check it.

    python -m image_tfx.web [VERSION_DIR]      serve the page for a pushed version

The page (index.html, app.js, style.css: static files, no build step) loads the TF.js graph
model a version carries in `assets.extra/tfjs/`, with TensorFlow.js from the npm package
`@tensorflow/tfjs` that `make install` puts in web/vendor/ (nothing is fetched from a CDN).
"""
