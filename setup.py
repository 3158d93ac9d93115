"""Packaging for image_tfx, the image-classification TFX pipeline.

The repository's top-level folders (data/, components/, model/, pipeline/, runner/, records/,
kubeflow/, tools/, web/, schema/) have generic names, so they are installed under one package,
`image_tfx`, instead of as top-level packages. An import names the folder and the file:
`image_tfx.runner.config` is runner/config.py; image_tfx/ itself holds only the package's
`__init__`. The curated schema ships as package data of `image_tfx.schema`.

Dependencies are pinned in requirements.txt and installed by `make install`
(`pip install --ignore-requires-python --no-deps -r requirements.txt`): TFX 1.16 declares
Python < 3.11, and resolving it without pins backtracks for over 20 minutes, so this file
declares only the direct dependencies, unpinned, for information.
"""

from setuptools import setup

# Every folder that holds code (or package data), as dotted package names.
_FOLDERS = ('data', 'components', 'components.image_example_gen', 'components.anomalies_gate',
            'components.pushed_baseline', 'components.data_schema',
            'components.tflite_exporter', 'components.tflite_validator',
            'components.model_pusher', 'components.parameterized', 'components.tfjs_exporter',
            'model', 'pipeline',
            'runner', 'records', 'kubeflow', 'tools', 'web', 'schema')

setup(
    name='image-tfx',
    version='0.1.0',
    description='An end-to-end TFX pipeline for image classification: class folders of photos '
                'or image arrays in, TF Serving, TFLite and TF.js models out',
    python_requires='>=3.11',
    packages=['image_tfx'] + [f'image_tfx.{folder}' for folder in _FOLDERS],
    package_dir={'image_tfx': 'image_tfx',
                 **{f'image_tfx.{f}': f.replace('.', '/') for f in _FOLDERS}},
    package_data={'image_tfx.schema': ['*.pbtxt'], 'image_tfx.model': ['signatures.json'],
                  'image_tfx.web': ['*.html', '*.js', '*.css', 'vendor/*.js']},
    install_requires=['tfx', 'tensorflow', 'tensorflow-transform', 'tensorflow-model-analysis',
                      'tensorflow-data-validation', 'ml-metadata', 'apache-beam', 'mlxtend',
                      'numpy'],
    entry_points={'console_scripts': [
        'image-tfx-run = image_tfx.runner.local:run_command',
        'image-tfx-predict = image_tfx.tools.predict:run_command',
        'image-tfx-inspect = image_tfx.records.inspect:run_command',
        'image-tfx-web = image_tfx.web.__main__:main',
    ]},
)
