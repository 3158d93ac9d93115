"""Leaves a task's outputs as TensorFlow's GCS filesystem leaves them: a stand-in for gs://.

On PYTHONPATH of a task the Kubeflow emulator runs (tests/kfp_launcher.py, `gcs_markers`),
this module wraps TFX's Kubeflow v2 executor run so that, when the executor is done, every
folder under each output artifact (the artifact's own folder included) has a zero-byte object
named `folder/`, as TensorFlow's GCS filesystem writes one for each folder it creates
(tensorflow/tsl gcs_file_system.cc, CreateDir and RecursivelyCreateDir). The project's own
code then runs (kubeflow/entrypoint.py), and the launcher downloads the next task's inputs.

Why not a server that writes markers: the store here is S3 (moto), whose TensorFlow client
(tensorflow-io) cannot rename a folder that has a marker, which TensorFlow's GCS client can;
and TensorFlow 2.16's GCS client cannot be pointed at a local server. Markers for every
folder are at least as many as TensorFlow leaves (it leaves none where Beam writes).
"""

import json

from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_run_executor as _entry

_run_executor = _entry._run_executor


def _folders(prefix, keys):
    """The artifact's folder and every folder under it that holds one of keys."""
    found = {prefix.rstrip('/') + '/'}
    for key in keys:
        parts = key[len(prefix.rstrip('/')) + 1:].split('/')[:-1]
        for depth in range(1, len(parts) + 1):
            found.add(prefix.rstrip('/') + '/' + '/'.join(parts[:depth]) + '/')
    return found


def _with_markers(args, beam_args):
    _run_executor(args, beam_args)
    import boto3
    client = boto3.client('s3')
    executor_input = json.loads(args.json_serialized_invocation_args)
    for artifacts in executor_input.get('outputs', {}).get('artifacts', {}).values():
        for artifact in artifacts.get('artifacts', []):
            bucket, _, prefix = artifact['uri'][len('s3://'):].partition('/')
            pages = client.get_paginator('list_objects_v2').paginate(
                Bucket=bucket, Prefix=prefix.rstrip('/') + '/')
            keys = [item['Key'] for page in pages for item in page.get('Contents', [])]
            for marker in _folders(prefix, keys):
                client.put_object(Bucket=bucket, Key=marker, Body=b'')


_entry._run_executor = _with_markers
