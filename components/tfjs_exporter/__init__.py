"""TFJSExporter: the trained model as a TensorFlow.js graph model, checked in Chromium on the
page a person uses (web/), with a blessing of its own."""
