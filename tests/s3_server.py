"""A real S3-protocol server on loopback for the tests: moto's server mode.

moto_server (pinned in requirements-s3-server.txt, installed by `make install` into
.venv/s3-server) answers the S3 REST API as AWS does, to TensorFlow's S3 client (tensorflow-io,
the AWS C++ SDK) and to Beam's (boto3) alike. Each server keeps its buckets in memory and is
stopped by the test that started it.

The tests themselves read the bucket with boto3 and run the pipeline in subprocesses: a
process that touched s3:// through tensorflow-io aborts at exit (tensorflow/io#2039), which
would end pytest with status 134.
"""

import os
import socket
import subprocess
import sys
from typing import Dict

import boto3

from conftest import stop_process, wait_until_listening

MOTO_SERVER = os.path.join(os.path.dirname(sys.executable), '..', 's3-server', 'bin',
                           'moto_server')
ACCESS_KEY, SECRET_KEY, REGION = 'test-access-key', 'test-secret-key', 'us-east-1'
# Variables that would let a task reach a store without being given them.
STORE_VARIABLES = ('S3_ENDPOINT', 'S3_USE_HTTPS', 'S3_VERIFY_SSL', 'AWS_ENDPOINT_URL',
                   'AWS_ENDPOINT_URL_S3', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY',
                   'AWS_SESSION_TOKEN', 'AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_PROFILE',
                   'AWS_CONFIG_FILE', 'AWS_SHARED_CREDENTIALS_FILE')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def without_store_variables(env: Dict[str, str]) -> Dict[str, str]:
    return {k: v for k, v in env.items() if k not in STORE_VARIABLES}


class S3Server:
    """moto_server on 127.0.0.1:<free port>."""

    def __init__(self, log_path: str):
        if not os.path.exists(MOTO_SERVER):
            raise RuntimeError(f'{os.path.normpath(MOTO_SERVER)} is missing: run make install')
        self.port = free_port()
        self.endpoint = f'http://127.0.0.1:{self.port}'
        self._log = open(log_path, 'w', encoding='utf-8')
        self._process = subprocess.Popen(
            [MOTO_SERVER, '-H', '127.0.0.1', '-p', str(self.port)],
            stdout=self._log, stderr=subprocess.STDOUT)
        try:
            wait_until_listening(self._process, self.port, 'moto_server', log_path)
        except RuntimeError:
            self._log.close()
            raise
        self.client = boto3.client('s3', endpoint_url=self.endpoint, region_name=REGION,
                                   aws_access_key_id=ACCESS_KEY,
                                   aws_secret_access_key=SECRET_KEY)

    def env(self, base: Dict[str, str]) -> Dict[str, str]:
        """`base` with what a user sets to use this server: credentials and one endpoint
        variable (the pipeline derives the others)."""
        env = without_store_variables(base)
        env.update(AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY,
                   AWS_REGION=REGION, S3_ENDPOINT=self.endpoint)
        return env

    def make_bucket(self, name: str) -> str:
        self.client.create_bucket(Bucket=name)
        return name

    def objects(self, uri: str, markers: bool = False) -> Dict[str, int]:
        """{key relative to uri: bytes} of every object under an s3:// URI; folder markers
        (zero-byte `folder/` objects) only with markers."""
        bucket, _, prefix = uri[len('s3://'):].partition('/')
        prefix = prefix.rstrip('/') + '/' if prefix else ''
        found = {}
        for page in self.client.get_paginator('list_objects_v2').paginate(Bucket=bucket,
                                                                          Prefix=prefix):
            for item in page.get('Contents', []):
                if markers or not item['Key'].endswith('/'):
                    found[item['Key'][len(prefix):]] = item['Size']
        return found

    def read(self, uri: str) -> bytes:
        bucket, _, key = uri[len('s3://'):].partition('/')
        return self.client.get_object(Bucket=bucket, Key=key)['Body'].read()

    def download(self, uri: str, target: str) -> str:
        """Copies every object under uri into the local folder target; returns target."""
        for relative in self.objects(uri):
            path = os.path.join(target, relative)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, 'wb') as f:
                f.write(self.read(uri.rstrip('/') + '/' + relative))
        return target

    def stop(self) -> None:
        stop_process(self._process)
        self._log.close()
