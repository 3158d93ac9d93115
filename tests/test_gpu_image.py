"""The GPU image's CUDA pins: exactly what tensorflow[and-cuda] names, and each one installable.

No GPU runs here or in CI, so the GPU path is made correct by construction: the pins equal the
`and-cuda` extra of the installed TensorFlow's own metadata, and each resolves at the package
index to a Linux x86_64 wheel (the index's JSON API, PEP 691: no multi-GB download).
"""

import json
import os
import re
import urllib.request
from importlib import metadata

import pytest

from conftest import REPO

GPU_PINS = os.path.join(REPO, 'kubeflow', 'requirements-gpu.txt')
INDEX = 'https://pypi.org/simple'


def _pins():
    with open(GPU_PINS) as f:
        return dict(line.strip().split('==') for line in f
                    if line.strip() and not line.startswith('#'))


def test_gpu_pins_are_tensorflows_and_cuda_extra():
    extra = {}
    for requirement in metadata.requires('tensorflow'):
        match = re.match(r"([\w.-]+) ?==([\w.]+) ?; extra == .and-cuda.", requirement)
        if match:
            extra[match.group(1)] = match.group(2)
    assert extra, 'tensorflow declares no and-cuda extra'
    assert _pins() == extra


def test_every_gpu_pin_resolves_to_a_linux_wheel():
    missing = []
    for name, version in _pins().items():
        request = urllib.request.Request(f'{INDEX}/{name}/', headers={
            'Accept': 'application/vnd.pypi.simple.v1+json'})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                files = [f['filename'] for f in json.load(response)['files']]
        except OSError as e:
            if os.environ.get('CI'):
                raise
            pytest.skip(f'package index not reachable: {e}')
        wheel = re.compile(rf'{name.replace("-", "_")}-{re.escape(version)}-(py3|cp311)-'
                           r'[\w.]+-manylinux[\w.]*x86_64\.whl$')
        if not any(wheel.match(f) for f in files):
            missing.append(f'{name}=={version}')
    assert not missing, f'no Linux x86_64 wheel at {INDEX} for {missing}'


def test_dockerfile_installs_them_in_the_gpu_variant():
    with open(os.path.join(REPO, 'kubeflow', 'Dockerfile')) as f:
        dockerfile = f.read()
    assert re.search(r'^ARG VARIANT=cpu$', dockerfile, re.M)
    assert 'requirements-gpu.txt' in dockerfile and '"$VARIANT" = gpu' in dockerfile
