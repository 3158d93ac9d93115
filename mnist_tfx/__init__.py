"""MNIST TFX pipeline: the installed package.

The code lives in the repository's top-level folders and is installed beneath this package
(see setup.py): mnist_tfx.pipeline, mnist_tfx.components, mnist_tfx.model, mnist_tfx.schema.
"""
