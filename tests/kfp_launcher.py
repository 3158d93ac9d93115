"""Runs a compiled KFP v2 pipeline spec on this machine, task by task, as KFP's backend would.

A stand-in for the open-source Kubeflow Pipelines backend (kubeflow/pipelines, backend/src/v2),
written from its source and run in the behaviour of a chosen release (`BACKENDS`): no cluster
and no containers. For each task of the spec's root DAG, in dependency order, it does what
KFP's driver and launcher do in a pod; the backend function each step copies is named in
`docs/kubeflow.md`'s version table and beside the code:
  * records the run in ML Metadata as the driver and launcher do (metadata/client.go): the
    system.Pipeline and system.PipelineRun contexts, a system.DAGExecution for the root and a
    system.ContainerExecution per task with its custom properties, the artifacts typed by
    their schema title, INPUT and OUTPUT events keyed by name. Downstream tasks get their
    input artifacts back from ML Metadata, converted there and back as converter.go converts
    them (numbers become doubles, a list {"list": ...}, an object {"struct": ...}, a null
    fails the task), with `type: {instanceSchema: ""}`;
  * builds the ExecutorInput JSON from the spec: parameters from the run's values or the
    spec's defaults, constants, input artifacts, output artifact URIs laid out as the
    driver lays them out (provisionOutputs), plus `executor-logs` when log publishing is on;
    substitutes it into the container's own command and arguments, refuses any placeholder
    it cannot resolve, runs the command in a subprocess and reads back the ExecutorOutput;
  * with `gcs_markers`, leaves each task's outputs with a zero-byte `folder/` object for
    every folder, as TensorFlow's GCS filesystem leaves them (a stand-in for gs://:
    tests/gcs_shaped/sitecustomize.py);
  * opens object-store buckets only from the `kfp-launcher` ConfigMap it is given and the
    cluster's secrets (config/s3.go, objectstore/object_store.go), downloads every input
    artifact object by object as DownloadBlob does before the command runs (so a zero-byte
    `folder/` marker fails the task, kubeflow/pipelines#13476), and uploads the task's log
    to `executor-logs` as the launcher does;
  * serves a task from its cache when KFP's fingerprint (input artifact names, parameter
    values, output specs, image, command) matches an earlier execution and caching is on;
  * gives each task the image's environment plus the container's `env` (driver.go) and the
    platform spec's `secretAsEnv` (driver/k8s.go); a missing secret or key fails the task;
  * refuses any executor but a container (a TFX resolver, say), as the backend refuses it
    when a run is created. Importers and lifecycle hooks are not used here and are refused.
"""

import dataclasses
import hashlib
import json
import os
import posixpath
import re
import subprocess
import sys
import time
import uuid
from typing import Any, Dict, List, Optional

import yaml

_PLACEHOLDER = re.compile(r'\{\{\$[^}]*\}\}')
# The backend's root driver uses the run's pipeline_root (its runtime config), else the
# kfp-launcher ConfigMap's defaultPipelineRoot, else this; it never reads the spec's
# defaultPipelineRoot (backend/src/v2/driver/root_dag.go, backend/src/v2/config/env.go).
BACKEND_DEFAULT_PIPELINE_ROOT = 'minio://mlpipeline/v2/artifacts'
_PARAMETER_TYPES = {'NUMBER_INTEGER': int, 'NUMBER_DOUBLE': (int, float), 'STRING': str,
                    'BOOLEAN': bool}
EXECUTOR_LOGS = 'executor-logs'  # driver.go, provisionOutputs
# A sitecustomize that leaves zero-byte folder markers in each task's outputs, as TensorFlow's
# GCS filesystem does (tests/gcs_shaped/sitecustomize.py).
GCS_SHAPED_SITE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'gcs_shaped')
# The MinIO settings a minio:// root gets without a `minio` provider (config/minio.go).
_MINIO_DEFAULT_SECRET = ('mlpipeline-minio-artifact', 'accesskey', 'secretkey')


@dataclasses.dataclass(frozen=True)
class Backend:
    """What changed in backend/src/v2 between the releases the emulator runs (tags of
    kubeflow/pipelines; there are none between 2.5.0 and 2.14.0)."""
    version: str
    # The driver adds an `executor-logs` output of type system.Artifact to every task (from
    # 2.5.0, 464ca3974f; the apiserver's PUBLISH_LOGS, "true" in the default manifests).
    publish_logs: bool
    # Output URIs <run root>/<task>/<uuid>/<output> (from 2.4.0, 219725d9f0); before,
    # <run root>/<task>/<output>.
    output_uri_salt: bool
    # executor-logs at .../executor-logs-<retry index> (2.16.1 and 2.17.0,
    # qualifyExecutorLogsForRetry).
    logs_retry_suffix: bool
    # DownloadBlob skips keys that are not under the artifact's prefix, a sibling such as
    # model_run beside model (from 2.17.0, 793a01f045, isBlobKeyUnderPrefix).
    download_under_prefix_only: bool
    # From 2.4.0 `forcePathStyle` is a setting (default true); 2.3.0 always uses path style.
    path_style_setting: bool
    # The log of a failed command is uploaded too (from 2.16.0, 1d67c43b8e).
    logs_of_failures: bool = False


BACKENDS = {
    '2.3.0': Backend('2.3.0', publish_logs=False, output_uri_salt=False,
                     logs_retry_suffix=False, download_under_prefix_only=False,
                     path_style_setting=False),
    '2.4.0': Backend('2.4.0', publish_logs=False, output_uri_salt=True, logs_retry_suffix=False,
                     download_under_prefix_only=False, path_style_setting=True),
    '2.5.0': Backend('2.5.0', publish_logs=True, output_uri_salt=True, logs_retry_suffix=False,
                     download_under_prefix_only=False, path_style_setting=True),
    '2.16.1': Backend('2.16.1', publish_logs=True, output_uri_salt=True, logs_retry_suffix=True,
                      download_under_prefix_only=False, path_style_setting=True,
                      logs_of_failures=True),
    # 2.17.0 and master (7b70c7b, 2026-08-21).
    'master': Backend('master', publish_logs=True, output_uri_salt=True, logs_retry_suffix=True,
                      download_under_prefix_only=True, path_style_setting=True,
                      logs_of_failures=True),
}


class TaskFailed(RuntimeError):
    """A task failed; the message holds the end of its output or the launcher's reason."""

    def __init__(self, task: str, returncode: int, log_path: str, tail: str):
        super().__init__(f'task {task} exited {returncode} (log: {log_path}):\n{tail}')
        self.task = task
        self.returncode = returncode


def load_spec(path: str) -> Dict[str, Any]:
    """The PipelineSpec of a compiled YAML file (its first document)."""
    with open(path, encoding='utf-8') as f:
        return next(iter(yaml.safe_load_all(f)))


def load_platform_spec(path: str) -> Dict[str, Any]:
    """The Kubernetes executor configs of a compiled YAML file's platform spec (its second
    document, as kfp-kubernetes writes it): {executor label: config}; {} without one."""
    with open(path, encoding='utf-8') as f:
        documents = list(yaml.safe_load_all(f))
    platform = documents[1] if len(documents) > 1 else {}
    return platform.get('platforms', {}).get('kubernetes', {}).get('deploymentSpec', {}).get(
        'executors', {})


def task_order(spec: Dict[str, Any]) -> List[str]:
    """The root DAG's tasks in an order that respects every dependency (stable by name)."""
    tasks = spec['root']['dag']['tasks']
    needs = {}
    for name, task in tasks.items():
        deps = set(task.get('dependentTasks', []))
        for artifact in task.get('inputs', {}).get('artifacts', {}).values():
            deps.add(artifact['taskOutputArtifact']['producerTask'])
        needs[name] = deps
    order, done = [], set()
    while len(order) < len(tasks):
        ready = sorted(n for n in tasks if n not in done and needs[n] <= done)
        if not ready:
            raise ValueError(f'the DAG has a cycle among {sorted(set(tasks) - done)}')
        order.extend(ready)
        done.update(ready)
    return order


def schema_title(artifact_type: Dict[str, Any]) -> str:
    """The ML Metadata type name the launcher gives an artifact: its schema's title
    (metadata/client.go, RecordArtifact)."""
    if artifact_type.get('schemaTitle'):
        return artifact_type['schemaTitle']
    title = (yaml.safe_load(artifact_type.get('instanceSchema') or '') or {}).get('title')
    if not title:
        raise ValueError(f'artifact type {artifact_type} has no title')  # glog.Fatal there
    return title


# ---------------------------------------------------------------- ML Metadata, as the backend

def to_mlmd_value(name: str, key: str, value: Any):
    """A metadata value as converter.go's StructValueToMLMDValue stores it."""
    from ml_metadata.proto import metadata_store_pb2
    result = metadata_store_pb2.Value()
    if value is None:
        raise TaskFailed(name, -1, '', f'unable to produce MLMD artifact for output "{key}": '
                         'failed to convert RuntimeArtifact to MLMD artifact: unknown/'
                         'unsupported value type *structpb.Value_NullValue')
    if isinstance(value, bool):
        result.int_value = int(value)
    elif isinstance(value, (int, float)):
        result.double_value = float(value)
    elif isinstance(value, str):
        result.string_value = value
    elif isinstance(value, list):
        result.struct_value.CopyFrom(_struct({'list': value}))
    elif isinstance(value, dict):
        result.struct_value.CopyFrom(_struct({'struct': value}))
    else:
        raise TypeError(f'{key}: {value!r}')
    return result


def _struct(value: Dict[str, Any]):
    from google.protobuf import json_format, struct_pb2
    return json_format.ParseDict(value, struct_pb2.Struct())


def from_mlmd_value(value) -> Any:
    """An ML Metadata value as toRuntimeArtifact hands it downstream: ints and doubles as
    numbers, a struct as stored (wrapper included)."""
    from google.protobuf import json_format
    kind = value.WhichOneof('value')
    if kind in ('int_value', 'double_value'):
        return float(getattr(value, kind))
    if kind == 'struct_value':
        return json_format.MessageToDict(value.struct_value)
    return getattr(value, kind) if kind else None


class KfpMetadata:
    """Records runs in ML Metadata the way KFP's driver and launcher do (metadata/client.go)."""

    def __init__(self, store=None):
        from ml_metadata import metadata_store
        from ml_metadata.proto import metadata_store_pb2 as pb
        self.pb = pb
        if store is None:  # an in-memory store of the same library
            config = pb.ConnectionConfig()
            config.fake_database.SetInParent()
            store = metadata_store.MetadataStore(config)
        self.store = store

    def _type_id(self, kind: str, name: str) -> int:
        put = {'context': (self.store.put_context_type, self.pb.ContextType),
               'execution': (self.store.put_execution_type, self.pb.ExecutionType),
               'artifact': (self.store.put_artifact_type, self.pb.ArtifactType)}[kind]
        return put[0](put[1](name=name))

    def start_run(self, pipeline_name: str, run_id: str, run_root: str,
                  session_info: str, parameters: Dict[str, Any]):
        """The pipeline and run contexts and the root DAG's execution (driver/root_dag.go)."""
        pb = self.pb
        pipeline = self.store.get_context_by_type_and_name('system.Pipeline', pipeline_name)
        if pipeline is None:
            context = pb.Context(type_id=self._type_id('context', 'system.Pipeline'),
                                 name=pipeline_name)
            pipeline = self.store.get_contexts_by_id(self.store.put_contexts([context]))[0]
        run = pb.Context(type_id=self._type_id('context', 'system.PipelineRun'), name=run_id)
        for key, value in (('namespace', 'kubeflow'), ('resource_name', 'run-resource'),
                           ('pipeline_root', run_root), ('store_session_info', session_info)):
            run.custom_properties[key].string_value = value
        run = self.store.get_contexts_by_id(self.store.put_contexts([run]))[0]
        self.store.put_parent_contexts([pb.ParentContext(child_id=run.id,
                                                         parent_id=pipeline.id)])
        dag = pb.Execution(type_id=self._type_id('execution', 'system.DAGExecution'),
                           name=f'run/{run_id}', last_known_state=pb.Execution.RUNNING)
        dag.custom_properties['display_name'].string_value = ''
        dag.custom_properties['task_name'].string_value = ''
        dag.custom_properties['inputs'].struct_value.CopyFrom(_struct(parameters))
        dag_id, _, _ = self.store.put_execution(dag, [], [pipeline, run])
        return pipeline, run, dag_id

    def start_task(self, contexts, dag_id: int, task: str, parameters: Dict[str, Any],
                   inputs: Dict[str, List[Dict[str, Any]]], fingerprint: str,
                   cached_from: Optional[int] = None) -> int:
        """A task's execution with its INPUT events (driver.go, CreateExecution)."""
        pb = self.pb
        execution = pb.Execution(type_id=self._type_id('execution', 'system.ContainerExecution'),
                                 last_known_state=pb.Execution.RUNNING)
        props = execution.custom_properties
        for key, value in (('display_name', task), ('task_name', task), ('image', ''),
                           ('pod_name', f'{task.lower()}-{uuid.uuid4().hex[:8]}'),
                           ('pod_uid', str(uuid.uuid4())), ('namespace', 'kubeflow'),
                           ('cache_fingerprint', fingerprint),
                           ('cached_execution_id',
                            '' if cached_from is None else str(cached_from))):
            props[key].string_value = value
        props['parent_dag_id'].int_value = dag_id
        props['inputs'].struct_value.CopyFrom(_struct(parameters))
        events = []
        for key, artifacts in inputs.items():
            for artifact in self.store.get_artifacts_by_id([int(a['name']) for a in artifacts]):
                event = pb.Event(type=pb.Event.INPUT)
                event.path.steps.add().key = key
                events.append((artifact, event))
        execution_id, _, _ = self.store.put_execution(execution, events, contexts)
        return execution_id

    def publish(self, contexts, execution_id: int, state: str, outputs=None,
                output_types=None, task: str = '') -> Dict[str, List[Dict[str, Any]]]:
        """The launcher's PublishExecution: the state, the output artifacts recorded (new
        ones with their metadata as custom properties, or the cached execution's) and their
        OUTPUT events. Returns the outputs as a downstream task receives them."""
        pb = self.pb
        execution = self.store.get_executions_by_id([execution_id])[0]
        execution.last_known_state = {'complete': pb.Execution.COMPLETE,
                                      'failed': pb.Execution.FAILED,
                                      'cached': pb.Execution.CACHED}[state]
        execution.custom_properties['outputs'].struct_value.SetInParent()
        events = []
        for key, artifacts in (outputs or {}).items():
            for artifact in artifacts:
                if 'id' in artifact:  # already recorded: a cached execution's output
                    recorded = self.store.get_artifacts_by_id([artifact['id']])[0]
                else:
                    recorded = pb.Artifact(
                        type_id=self._type_id('artifact', schema_title(output_types[key])),
                        uri=artifact['uri'], state=pb.Artifact.LIVE)
                    metadata = dict(artifact.get('metadata') or {})
                    metadata.setdefault('display_name', key)
                    for name, value in metadata.items():
                        recorded.custom_properties[name].CopyFrom(
                            to_mlmd_value(task, key, value))
                    recorded.custom_properties['store_session_info'].string_value = \
                        artifact.get('session_info', '')
                event = pb.Event(type=pb.Event.OUTPUT)
                event.path.steps.add().key = key
                events.append((recorded, event))
        self.store.put_execution(execution, events, contexts)
        return self.outputs_of(execution_id)

    def outputs_of(self, execution_id: int) -> Dict[str, List[Dict[str, Any]]]:
        """An execution's outputs as the driver hands them to a downstream task
        (GetOutputArtifactsByExecutionId, toRuntimeArtifact): named by ML Metadata id, URI,
        metadata from the custom properties, and an empty instance schema."""
        pb = self.pb
        events = [e for e in self.store.get_events_by_execution_ids([execution_id])
                  if e.type == pb.Event.OUTPUT]
        artifacts = {a.id: a for a in self.store.get_artifacts_by_id(
            [e.artifact_id for e in events])}
        result: Dict[str, List[Dict[str, Any]]] = {}
        for event in events:
            artifact = artifacts[event.artifact_id]
            result.setdefault(event.path.steps[0].key, []).append({
                'name': str(artifact.id), 'uri': artifact.uri,
                'metadata': {k: from_mlmd_value(v)
                             for k, v in sorted(artifact.custom_properties.items())},
                'type': {'instanceSchema': ''}})
        return result

    def finish_run(self, dag_id: int, failed: bool) -> None:
        execution = self.store.get_executions_by_id([dag_id])[0]
        execution.last_known_state = (self.pb.Execution.FAILED if failed
                                      else self.pb.Execution.COMPLETE)
        self.store.put_executions([execution])


# ---------------------------------------------------------------- object storage, as the launcher

def local_path_for_uri(task_dir: str, uri: str) -> str:
    """LocalPathForURI (component/launcher_v2.go): gs:// -> /gcs/, minio:// -> /minio/,
    s3:// -> /s3/, under the task's folder instead of the pod's root."""
    for scheme, folder in (('gs://', 'gcs'), ('minio://', 'minio'), ('s3://', 's3')):
        if uri.startswith(scheme):
            return os.path.join(task_dir, folder, uri[len(scheme):])
    raise ValueError(f'failed to generate local path for URI {uri}: unsupported storage scheme')


class Bucket:
    """One bucket opened as the launcher opens it: settings from the kfp-launcher ConfigMap's
    `providers` and a secret of the cluster (objectstore/object_store.go, OpenBucket)."""

    def __init__(self, uri: str, config: Optional[Dict[str, Any]],
                 secrets: Dict[str, Dict[str, str]], backend: Backend):
        scheme, _, rest = uri.partition('://')
        self.name, _, key = rest.partition('/')
        if scheme == 'gs':
            # No GCS server can run here (TensorFlow 2.16's client has no endpoint override).
            raise ValueError(f'{uri}: the emulator opens s3:// and minio:// buckets only')
        providers = yaml.safe_load((config or {}).get('data', {}).get('providers') or '') or {}
        settings = providers.get(scheme)
        if settings is None and scheme == 'minio':
            secret, access, secret_key = _MINIO_DEFAULT_SECRET
            settings = {'default': {'endpoint': 'minio-service.kubeflow:9000', 'region': 'minio',
                                    'disableSSL': True, 'credentials': {'secretRef': {
                                        'secretName': secret, 'accessKeyKey': access,
                                        'secretKeyKey': secret_key}}}}
        if settings is None:
            # fromEnv: AWS's own endpoint and the pod's environment (config/s3.go).
            raise ValueError(f'failed to open bucket {self.name!r}: the kfp-launcher ConfigMap '
                             f'has no {scheme} provider, so the launcher uses AWS\'s endpoint '
                             'and its pod\'s credentials (config/s3.go)')
        chosen = settings.get('default') or {}
        for override in settings.get('overrides') or []:
            if override.get('bucketName') == self.name and key.startswith(
                    override.get('keyPrefix', '')):
                chosen = override
                break
        credentials = chosen.get('credentials') or {}
        if credentials.get('fromEnv', False) or 'secretRef' not in credentials:
            raise ValueError(f'failed to open bucket {self.name!r}: credentials fromEnv, which '
                             'the launcher\'s pod does not have here')
        ref = credentials['secretRef']
        if ref['secretName'] not in secrets:
            raise ValueError(f'failed to get secret "{ref["secretName"]}": not found')
        secret = secrets[ref['secretName']]
        for needed in (ref['accessKeyKey'], ref['secretKeyKey']):
            if needed not in secret:
                raise ValueError(f'secret {ref["secretName"]} has no key {needed}')
        endpoint = chosen.get('endpoint') or ''
        if not endpoint:
            raise ValueError(f'failed to open bucket {self.name!r}: no endpoint, so AWS\'s, '
                             'which cannot be reached here')
        if '://' not in endpoint:
            endpoint = ('http://' if chosen.get('disableSSL') else 'https://') + endpoint
        path_style = chosen.get('forcePathStyle', True) if backend.path_style_setting else True
        import boto3
        from botocore.config import Config
        self.client = boto3.client(
            's3', endpoint_url=endpoint, region_name=chosen.get('region') or 'us-east-1',
            aws_access_key_id=secret[ref['accessKeyKey']],
            aws_secret_access_key=secret[ref['secretKeyKey']],
            config=Config(s3={'addressing_style': 'path' if path_style else 'virtual'},
                          retries={'max_attempts': 1}, connect_timeout=5))
        self.session_info = json.dumps({'Provider': scheme, 'Params': {
            'endpoint': endpoint, 'region': chosen.get('region', ''),
            'fromEnv': 'false', 'secretName': ref['secretName']}})

    @staticmethod
    def key(uri: str) -> str:
        return uri.split('://', 1)[1].partition('/')[2]

    def download(self, uri: str, local_dir: str, under_prefix_only: bool) -> None:
        """objectstore.DownloadBlob: every object listed under the key prefix (no delimiter,
        in key order) is written to local_dir joined with filepath.Rel(prefix, key); a
        zero-byte `folder/` key becomes a file where a folder must go."""
        prefix = self.key(uri)
        paginator = self.client.get_paginator('list_objects_v2')
        for page in paginator.paginate(Bucket=self.name, Prefix=prefix):
            for item in page.get('Contents', []):
                key = item['Key']
                if under_prefix_only and not (key.rstrip('/') == prefix.rstrip('/')
                                              or key.startswith(prefix.rstrip('/') + '/')):
                    continue  # isBlobKeyUnderPrefix (2.17.0)
                relative = posixpath.relpath('/' + key, '/' + prefix)
                path = os.path.normpath(os.path.join(local_dir, relative))
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, 'wb') as f:
                    body = self.client.get_object(Bucket=self.name, Key=key)['Body']
                    f.write(body.read())

    def upload_file(self, path: str, uri: str) -> None:
        with open(path, 'rb') as f:
            self.client.put_object(Bucket=self.name, Key=self.key(uri), Body=f.read())


# ---------------------------------------------------------------- the launcher

class Launcher:
    """Runs a spec's tasks in subprocesses, recording them in ML Metadata as KFP does."""

    def __init__(self, spec: Dict[str, Any], work_dir: str, pipeline_root: Optional[str] = None,
                 env: Optional[Dict[str, str]] = None, timeout: float = 900,
                 platform: Optional[Dict[str, Any]] = None,
                 secrets: Optional[Dict[str, Dict[str, str]]] = None,
                 launcher_config: Optional[Dict[str, Any]] = None,
                 backend: Backend = BACKENDS['master'], metadata_store=None,
                 gcs_markers: bool = False):
        self.spec = spec
        self.platform = platform or {}
        self.secrets = secrets or {}
        self.launcher_config = launcher_config  # the kfp-launcher ConfigMap, as applied
        self.backend = backend
        configured = (launcher_config or {}).get('data', {}).get('defaultPipelineRoot')
        self.pipeline_root = pipeline_root or configured or BACKEND_DEFAULT_PIPELINE_ROOT
        self.metadata = KfpMetadata(metadata_store)
        # KFP's execution cache: fingerprint -> the execution whose outputs it serves.
        self.cache: Dict[str, int] = {}
        self.cached: Dict[str, List[str]] = {}  # run id -> tasks served from the cache
        self.work_dir = work_dir
        self.env = env or dict(os.environ)
        if gcs_markers:  # each task's outputs left as TensorFlow's GCS filesystem leaves them
            self.env = dict(self.env, PYTHONPATH=os.pathsep.join(
                [GCS_SHAPED_SITE] + [p for p in [self.env.get('PYTHONPATH')] if p]))
        self.timeout = timeout
        self.commands: Dict[str, List[str]] = {}
        self.executor_inputs: Dict[str, Dict[str, Any]] = {}
        self.timings: Dict[str, float] = {}

    def parameters(self, overrides: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        """The run's pipeline parameters: the spec's defaults, then the overrides, type-checked."""
        definitions = self.spec['root'].get('inputDefinitions', {}).get('parameters', {})
        unknown = set(overrides or {}) - set(definitions)
        if unknown:
            raise ValueError(f'unknown pipeline parameters {sorted(unknown)}')
        values = {}
        for name, definition in definitions.items():
            if name in (overrides or {}):
                value = overrides[name]
            elif 'defaultValue' in definition:
                value = definition['defaultValue']
            else:
                raise ValueError(f'pipeline parameter {name} has no default and no value')
            if not isinstance(value, _PARAMETER_TYPES[definition['parameterType']]):
                raise TypeError(f'parameter {name}={value!r} is not '
                                f'{definition["parameterType"]}')
            values[name] = value
        return values

    def run_root(self, run_id: str) -> str:
        """<pipeline root>/<pipeline name>/<run id> (driver/root_dag.go)."""
        name = self.spec.get('pipelineInfo', {}).get('name', 'pipeline')
        return '/'.join([self.pipeline_root.rstrip('/'), name, run_id])

    def run(self, run_id: str, overrides: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        """Runs every task once; returns their output artifacts, {task: {key: [artifact]}}."""
        parameters = self.parameters(overrides)
        name = self.spec.get('pipelineInfo', {}).get('name', 'pipeline')
        session = self._session_info(self.pipeline_root)
        pipeline, run, dag_id = self.metadata.start_run(name, run_id, self.run_root(run_id),
                                                        session, parameters)
        contexts = [pipeline, run]
        outputs: Dict[str, Dict[str, List[Dict[str, Any]]]] = {}
        try:
            for task_name in task_order(self.spec):
                outputs[task_name] = self._run_task(run_id, task_name, contexts, dag_id,
                                                    parameters, outputs)
        except BaseException:
            self.metadata.finish_run(dag_id, failed=True)
            raise
        self.metadata.finish_run(dag_id, failed=False)
        return outputs

    def _session_info(self, root: str) -> str:
        try:
            return Bucket(root, self.launcher_config, self.secrets, self.backend).session_info
        except ValueError:
            return json.dumps({'Provider': root.split('://', 1)[0], 'Params': {
                'fromEnv': 'true'}})

    def _run_task(self, run_id, name, contexts, dag_id, parameters, outputs):
        task = self.spec['root']['dag']['tasks'][name]
        component = self.spec['components'][task['componentRef']['name']]
        executor = self.spec['deploymentSpec']['executors'][component['executorLabel']]
        if 'container' not in executor:
            # As the open-source KFP backend's Argo compiler does when a run is created
            # (compiler/argocompiler/dag.go: "resolver executors not implemented";
            # compiler/visitor.go: "non-container and non-importer executor not implemented").
            raise NotImplementedError(f'task {name}: executor kind {sorted(executor)} is not '
                                      'implemented by the KFP backend')
        inputs = {}
        for key, spec in task.get('inputs', {}).get('artifacts', {}).items():
            source = spec['taskOutputArtifact']
            inputs[key] = outputs[source['producerTask']].get(source['outputArtifactKey'], [])
        task_parameters = self._input_parameters(name, task, parameters)
        started = time.monotonic()
        key = self._cache_key(task, component, executor['container'], task_parameters, inputs)
        if key is not None and key in self.cache:
            earlier = self.cache[key]
            execution_id = self.metadata.start_task(contexts, dag_id, name, task_parameters,
                                                    inputs, key, cached_from=earlier)
            recorded = self.metadata.outputs_of(earlier)
            cached = {k: [{'id': int(a['name'])} for a in v] for k, v in recorded.items()}
            result = self.metadata.publish(contexts, execution_id, 'cached', cached, task=name)
            self.cached.setdefault(run_id, []).append(name)
        else:
            execution_id = self.metadata.start_task(contexts, dag_id, name, task_parameters,
                                                    inputs, key or '')
            try:
                written, types = self._run_container(run_id, name, component,
                                                     executor['container'], task_parameters,
                                                     inputs, component['executorLabel'])
            except TaskFailed:
                self.metadata.publish(contexts, execution_id, 'failed', task=name)
                raise
            result = self.metadata.publish(contexts, execution_id, 'complete', written, types,
                                           task=name)
            if key is not None:
                self.cache[key] = execution_id
        self.timings[name] = time.monotonic() - started
        return result

    def _cache_key(self, task, component, container, task_parameters,
                   inputs) -> Optional[str]:
        """KFP's cache fingerprint of a task, None when its caching is off.

        As backend/src/v2/driver/cache.go (getFingerPrint) and cacheutils/cache.go
        (GenerateCacheKey): input artifact *names* (ML Metadata ids, not contents), input
        parameter values, output artifact specs without URIs, the image and the command and
        arguments before substitution. A task caches only when its cachingOptions.enableCache
        is set.
        """
        if not task.get('cachingOptions', {}).get('enableCache', False):
            return None
        key = {
            'inputArtifactNames': {k: [a['name'] for a in v] for k, v in sorted(inputs.items())},
            'inputParameterValues': task_parameters,
            'outputArtifactsSpec': {
                k: {'name': k, 'type': d['artifactType']} for k, d in sorted(
                    component.get('outputDefinitions', {}).get('artifacts', {}).items())},
            'containerSpec': {'image': container.get('image'),
                              'cmdArgs': container.get('command', []) + container.get('args', [])},
        }
        return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()

    @staticmethod
    def _input_parameters(name, task, parameters) -> Dict[str, Any]:
        values = {}
        for key, spec in task.get('inputs', {}).get('parameters', {}).items():
            if 'componentInputParameter' in spec:
                values[key] = parameters[spec['componentInputParameter']]
            elif 'runtimeValue' in spec:
                values[key] = spec['runtimeValue']['constant']
            else:
                raise NotImplementedError(f'task {name}: parameter {key} comes from {spec}')
        return values

    def task_env(self, name: str, container: Dict[str, Any], label: str) -> Dict[str, str]:
        """The task's environment: the image's, the container's `env`, then its secrets."""
        env = dict(self.env)
        for variable in container.get('env', []):
            env[variable['name']] = variable['value']
        for secret_env in self.platform.get(label, {}).get('secretAsEnv', []):
            secret_name = secret_env['secretName']
            if secret_name not in self.secrets:
                raise TaskFailed(name, -1, '', f'CreateContainerConfigError: secret '
                                 f'"{secret_name}" not found')
            for key_to_env in secret_env['keyToEnv']:
                key = key_to_env['secretKey']
                if key not in self.secrets[secret_name]:
                    raise TaskFailed(name, -1, '', f'CreateContainerConfigError: couldn\'t find '
                                     f'key {key} in Secret {secret_name}')
                env[key_to_env['envVar']] = self.secrets[secret_name][key]
        return env

    def _bucket(self, name: str, uri: str) -> Bucket:
        try:
            return Bucket(uri, self.launcher_config, self.secrets, self.backend)
        except ValueError as e:
            raise TaskFailed(name, -1, '', f'failed to open bucket for {uri}: {e}') from None

    def _download_inputs(self, name: str, task_dir: str, inputs) -> None:
        """downloadArtifacts (component/launcher_v2.go): every input artifact, before the
        command runs."""
        for key, artifacts in inputs.items():
            for artifact in artifacts:
                uri = artifact['uri']
                try:
                    local = local_path_for_uri(task_dir, uri)
                except ValueError:
                    raise TaskFailed(name, -1, '', f'failed to parse bucketConfig for input '
                                     f'{key!r} ({uri}): unsupported Cloud bucket') from None
                bucket = self._bucket(name, uri)
                try:
                    bucket.download(uri, local, self.backend.download_under_prefix_only)
                except Exception as e:  # OSError, botocore
                    raise TaskFailed(name, -1, '', f'failed to download input artifact {key!r} '
                                     f'from remote storage URI {uri}: {e}') from e

    def _output_uri(self, run_id: str, name: str, key: str, salt: str) -> str:
        """provisionOutputs (driver.go): <run root>/<task>[/<uuid>]/<output>."""
        parts = [self.run_root(run_id), name] + ([salt] if self.backend.output_uri_salt else [])
        return '/'.join(parts + [key])

    def _run_container(self, run_id, name, component, container, task_parameters, inputs,
                       label):
        task_dir = os.path.join(self.work_dir, run_id, name)
        os.makedirs(task_dir, exist_ok=True)
        env = self.task_env(name, container, label)
        # The launcher opens the root's bucket before anything else (launcher_v2.go).
        root_bucket = self._bucket(name, self.pipeline_root)
        self._download_inputs(name, task_dir, inputs)
        output_file = os.path.join(task_dir, 'executor_output.json')
        salt = str(uuid.uuid4())
        declared = dict(component.get('outputDefinitions', {}).get('artifacts', {}))
        types = {k: d['artifactType'] for k, d in declared.items()}
        if self.backend.publish_logs:
            types[EXECUTOR_LOGS] = {'schemaTitle': 'system.Artifact'}
        outputs = {}
        for key in types:
            uri = self._output_uri(run_id, name, key, salt)
            if key == EXECUTOR_LOGS and self.backend.logs_retry_suffix:
                uri += '-0'  # qualifyExecutorLogsForRetry, first attempt
            outputs[key] = [{'name': key, 'uri': uri, 'metadata': {}, 'type': types[key],
                             'session_info': root_bucket.session_info}]
        executor_input = {
            'inputs': {'parameterValues': task_parameters,
                       'artifacts': {k: {'artifacts': v} for k, v in inputs.items()}},
            'outputs': {'artifacts': {k: {'artifacts': [
                {f: v for f, v in a.items() if f != 'session_info'} for a in artifacts]}
                for k, artifacts in outputs.items()}, 'outputFile': output_file},
        }
        self.executor_inputs[name] = executor_input
        if container.get('lifecycle'):
            raise NotImplementedError(f'task {name}: lifecycle hooks are not supported')
        command = [self._substitute(name, arg, executor_input)
                   for arg in container.get('command', []) + container.get('args', [])]
        self.commands[name] = command
        # The launcher writes the command's output to executor-logs' local path itself.
        log_path = (local_path_for_uri(task_dir, outputs[EXECUTOR_LOGS][0]['uri'])
                    if EXECUTOR_LOGS in outputs else os.path.join(task_dir, 'log.txt'))
        os.makedirs(os.path.dirname(log_path), exist_ok=True)
        with open(log_path, 'w', encoding='utf-8') as log:
            process = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT,
                                     cwd=task_dir, env=env, timeout=self.timeout,
                                     check=False)
        if EXECUTOR_LOGS in outputs and (process.returncode == 0
                                         or self.backend.logs_of_failures):
            # Uploaded as any output; from 2.16.0 also when the command failed.
            root_bucket.upload_file(log_path, outputs[EXECUTOR_LOGS][0]['uri'])
        if process.returncode:
            with open(log_path, encoding='utf-8', errors='replace') as f:
                tail = ''.join(f.readlines()[-40:])
            raise TaskFailed(name, process.returncode, log_path, tail)
        if os.path.exists(output_file):
            with open(output_file, encoding='utf-8') as f:
                written = json.load(f).get('artifacts', {})
            for key, artifacts in outputs.items():
                if key == EXECUTOR_LOGS:
                    continue  # never merged from 2.16.1; TFX does not report it anyway
                for artifact, updated in zip(artifacts, written.get(key, {}).get('artifacts',
                                                                                  [])):
                    artifact['metadata'] = updated.get('metadata', {})
        return outputs, types

    @staticmethod
    def _substitute(name: str, arg: str, executor_input: Dict[str, Any]) -> str:
        arg = arg.replace('{{$}}', json.dumps(executor_input))
        unresolved = _PLACEHOLDER.findall(arg)
        if unresolved:
            raise ValueError(f'task {name}: unresolved placeholder(s) {unresolved} in its '
                             'command')
        return arg


def python_env(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """An environment whose `python` is this interpreter, as the image's PATH would give."""
    env = dict(os.environ)
    env['PATH'] = os.pathsep.join([os.path.dirname(sys.executable), env.get('PATH', '')])
    env.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
    env.update(extra or {})
    return env
