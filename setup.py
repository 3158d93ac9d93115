"""Packaging for the MNIST TFX pipeline.

The repository's top-level folders (pipeline/, components/, model/, schema/) have generic names,
so they are installed under one package, `mnist_tfx`, instead of as top-level packages:
`pipeline/config.py` is imported as `mnist_tfx.pipeline.config`. The curated schema ships as
package data of `mnist_tfx.schema`.

Dependencies are pinned in requirements.txt and installed by `make install`
(`pip install --ignore-requires-python --no-deps -r requirements.txt`): TFX 1.16 declares
Python < 3.11, and resolving it without pins backtracks for over 20 minutes, so this file
declares only the direct dependencies, unpinned, for information.
"""

from setuptools import setup

_FOLDERS = ('pipeline', 'data', 'components', 'components.mnist_example_gen',
            'components.anomalies_gate',
            'components.pushed_baseline', 'components.data_schema',
            'components.tflite_exporter', 'components.tflite_validator',
            'components.model_pusher', 'components.parameterized', 'kubeflow', 'model', 'web',
            'schema')

setup(
    name='mnist-tfx',
    version='0.1.0',
    description='An end-to-end TFX pipeline for MNIST-format image classification',
    python_requires='>=3.11',
    packages=['mnist_tfx'] + [f'mnist_tfx.{folder}' for folder in _FOLDERS],
    package_dir={'mnist_tfx': 'mnist_tfx',
                 **{f'mnist_tfx.{f}': f.replace('.', '/') for f in _FOLDERS}},
    package_data={'mnist_tfx.schema': ['*.pbtxt'], 'mnist_tfx.model': ['signatures.json'],
                  'mnist_tfx.web': ['*.html', '*.js', '*.css', 'vendor/*.js']},
    install_requires=['tfx', 'tensorflow', 'tensorflow-transform', 'tensorflow-model-analysis',
                      'tensorflow-data-validation', 'ml-metadata', 'apache-beam', 'mlxtend',
                      'numpy'],
    entry_points={'console_scripts': [
        'mnist-tfx-run = mnist_tfx.pipeline.run_local:main',
        'mnist-tfx-predict = mnist_tfx.predict:main',
        'mnist-tfx-inspect = mnist_tfx.inspect:main',
        'mnist-tfx-web = mnist_tfx.web.__main__:main',
    ]},
)
