"""image_tfx, an image-classification pipeline on TFX: the installed package.

The code lives in the repository's top-level folders and is installed beneath this package
(see setup.py): image_tfx.pipeline, image_tfx.components, image_tfx.model, image_tfx.schema.
"""

# Kubeflow's v2 container entrypoint imports a custom artifact class by its type name
# ('image_tfx.TFLiteModel'), so the package must answer to those names. Resolved lazily, so
# that `import image_tfx...` does not load TFX.
_ARTIFACT_TYPES = ('TFLiteModel', 'TFLiteBlessing', 'TFJSModel', 'TFJSBlessing', 'DataCheck')


def __getattr__(name):
    if name in _ARTIFACT_TYPES:
        from image_tfx.components import artifacts
        return getattr(artifacts, name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
