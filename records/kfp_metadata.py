"""Runs recorded by Kubeflow Pipelines, read from KFP's ML Metadata over gRPC.

KFP's driver and launcher record a run in their own layout (kubeflow/pipelines,
backend/src/v2/metadata/client.go): a `system.PipelineRun` context named by the run id under a
`system.Pipeline` context, a `system.ContainerExecution` per task (its name in the custom
property `task_name`, its parameters in the struct `inputs`), artifacts typed by the schema
title the compiler wrote (`tfx.Examples`, `image_tfx.TFLiteModel`) whose metadata are custom
properties (numbers as doubles, a list as {"list": ...}, an object as {"struct": ...}), and
INPUT/OUTPUT events keyed by name. `KfpStore` presents that as the layout TFX's local runner
writes (pipeline_run and node contexts, TFX type names, properties), so that every reader of
runs (inspect, the summary, the report) reads both alike. It only reads.
"""

from typing import Dict, List, Optional, Tuple

from ml_metadata.proto import metadata_store_pb2 as pb

from image_tfx.records import metadata

KFP_RUN_CONTEXT = 'system.PipelineRun'
KFP_PIPELINE_CONTEXT = 'system.Pipeline'
KFP_CONTAINER_EXECUTION = 'system.ContainerExecution'
# Custom properties the launcher adds to every artifact, about KFP rather than the artifact.
_KFP_ARTIFACT_PROPERTIES = ('display_name', 'store_session_info')
_TFX_TITLE_PREFIX = 'tfx.'
CLIENT_TIMEOUT_SECONDS = 20


def parse_address(address: str) -> Tuple[str, int]:
    """HOST:PORT of KFP's metadata service, e.g. localhost:8080 after
    `kubectl -n kubeflow port-forward svc/metadata-grpc-service 8080:8080`."""
    host, _, port = address.rpartition(':')
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise metadata.MetadataError(f'--kfp-metadata {address}: expected HOST:PORT of KFP\'s '
                                     'metadata service, e.g. localhost:8080')
    return host, int(port)


def open_kfp_store(address: str) -> 'KfpStore':
    """KFP's ML Metadata at HOST:PORT; one line of MetadataError when it does not answer or
    holds no Kubeflow Pipelines runs."""
    from ml_metadata import errors
    from ml_metadata import metadata_store
    host, port = parse_address(address)
    config = pb.MetadataStoreClientConfig(host=host, port=port,
                                          client_timeout_sec=CLIENT_TIMEOUT_SECONDS)
    store = metadata_store.MetadataStore(config)
    try:
        run_type = store.get_context_type(KFP_RUN_CONTEXT)
        pipeline_type = store.get_context_type(KFP_PIPELINE_CONTEXT)
    except errors.NotFoundError:
        raise metadata.MetadataError(f'ML Metadata at {address} holds no Kubeflow Pipelines '
                                     'runs (no system.PipelineRun contexts)') from None
    except errors.StatusError as e:
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise metadata.MetadataError(f'ML Metadata at {address} did not answer '
                                     f'({first_line})') from None
    return KfpStore(store, run_type.id, pipeline_type.id)


class KfpStore:
    """The subset of MetadataStore's reading API that the readers of runs use, answering in
    the local layout from KFP's (see the module docstring)."""

    def __init__(self, store, run_type_id: int, pipeline_type_id: int):
        self._store = store
        self._run_type_id = run_type_id
        self._pipeline_type_id = pipeline_type_id
        self._artifact_types = {t.id: t.name for t in store.get_artifact_types()}
        self._execution_types = {t.id: t.name for t in store.get_execution_types()}
        self._node_type_id = -1  # not a type of the store: node contexts are made up here
        self._node_ids: Dict[str, int] = {}  # "<pipeline>.<task>" -> made-up context id

    def pipeline_roots(self) -> List[str]:
        """Where the runs wrote their artifacts: each run context's `pipeline_root`."""
        roots = set()
        for context in self._store.get_contexts_by_type(KFP_RUN_CONTEXT):
            root = context.custom_properties.get('pipeline_root')
            if root is not None and root.string_value:
                roots.add(root.string_value.split('?', 1)[0])
        return sorted(roots)

    # -- contexts

    def _run_context(self, context: pb.Context) -> pb.Context:
        result = pb.Context()
        result.CopyFrom(context)
        result.type = metadata.PIPELINE_RUN_CONTEXT
        return result

    def _node_context(self, name: str) -> pb.Context:
        node_id = self._node_ids.setdefault(name, -(len(self._node_ids) + 1))
        return pb.Context(id=node_id, type_id=self._node_type_id, name=name,
                          type=metadata.NODE_CONTEXT)

    def _pipeline_of(self, execution_id: int) -> str:
        for context in self._store.get_contexts_by_execution(execution_id):
            if context.type_id == self._pipeline_type_id:
                return context.name
        return ''

    def _is_task(self, execution: pb.Execution) -> bool:
        return self._execution_types.get(execution.type_id) == KFP_CONTAINER_EXECUTION

    def get_context_type(self, name: str):
        if name == metadata.PIPELINE_RUN_CONTEXT:
            return pb.ContextType(id=self._run_type_id, name=name)
        if name == metadata.NODE_CONTEXT:
            return pb.ContextType(id=self._node_type_id, name=name)
        return None

    def get_contexts_by_type(self, name: str) -> List[pb.Context]:
        if name == metadata.PIPELINE_RUN_CONTEXT:
            return [self._run_context(c) for c in self._store.get_contexts_by_type(KFP_RUN_CONTEXT)]
        if name == metadata.NODE_CONTEXT:
            names = set()
            for execution in self._store.get_executions_by_type(KFP_CONTAINER_EXECUTION):
                names.add(f'{self._pipeline_of(execution.id)}.{_task_name(execution)}')
            return [self._node_context(n) for n in sorted(names)]
        return []

    def get_context_by_type_and_name(self, type_name: str, name: str) -> Optional[pb.Context]:
        if type_name != metadata.PIPELINE_RUN_CONTEXT:
            return None
        context = self._store.get_context_by_type_and_name(KFP_RUN_CONTEXT, name)
        return None if context is None else self._run_context(context)

    def get_contexts_by_execution(self, execution_id: int) -> List[pb.Context]:
        result = []
        executions = self._store.get_executions_by_id([execution_id])
        for context in self._store.get_contexts_by_execution(execution_id):
            if context.type_id == self._run_type_id:
                result.append(self._run_context(context))
            elif context.type_id == self._pipeline_type_id and executions and self._is_task(
                    executions[0]):
                result.append(self._node_context(f'{context.name}.{_task_name(executions[0])}'))
        return result

    # -- executions

    def get_executions_by_context(self, context_id: int) -> List[pb.Execution]:
        if context_id < 0:  # a node context: that task's executions in every run
            name = next(n for n, i in self._node_ids.items() if i == context_id)
            pipeline, _, task = name.partition('.')
            found = [e for e in self._store.get_executions_by_type(KFP_CONTAINER_EXECUTION)
                     if _task_name(e) == task and self._pipeline_of(e.id) == pipeline]
        else:
            found = [e for e in self._store.get_executions_by_context(context_id)
                     if self._is_task(e)]
        return [_as_local_execution(e) for e in found]

    def get_executions_by_id(self, ids) -> List[pb.Execution]:
        return [_as_local_execution(e) for e in self._store.get_executions_by_id(list(ids))]

    # -- artifacts and events

    def _local_type(self, type_id: int) -> str:
        name = self._artifact_types.get(type_id, '?')
        return name[len(_TFX_TITLE_PREFIX):] if name.startswith(_TFX_TITLE_PREFIX) else name

    def _as_local_artifact(self, artifact: pb.Artifact) -> pb.Artifact:
        return _as_local_artifact(artifact, self._artifact_types.get(artifact.type_id, ''))

    def get_artifact_types(self) -> List[pb.ArtifactType]:
        return [pb.ArtifactType(id=i, name=self._local_type(i)) for i in self._artifact_types]

    def get_artifacts(self) -> List[pb.Artifact]:
        return [self._as_local_artifact(a) for a in self._store.get_artifacts()]

    def get_artifacts_by_id(self, ids) -> List[pb.Artifact]:
        return [self._as_local_artifact(a) for a in self._store.get_artifacts_by_id(list(ids))]

    def get_artifacts_by_type(self, local_name: str) -> List[pb.Artifact]:
        found = []
        for type_id, name in self._artifact_types.items():
            if self._local_type(type_id) == local_name:
                found.extend(self._store.get_artifacts_by_type(name))
        return [self._as_local_artifact(a) for a in found]

    def get_events_by_artifact_ids(self, ids) -> List[pb.Event]:
        return self._store.get_events_by_artifact_ids(list(ids))

    def get_events_by_execution_ids(self, ids) -> List[pb.Event]:
        return self._store.get_events_by_execution_ids(list(ids))


def _task_name(execution: pb.Execution) -> str:
    props = execution.custom_properties
    for key in ('task_name', 'display_name'):
        if key in props and props[key].string_value:
            return props[key].string_value
    return ''


def _local_value(value, target: pb.Value) -> None:
    """A KFP metadata value as TFX would have stored it: integral numbers as ints (KFP keeps
    every number as a double), KFP's {"list"}/{"struct"} wrapper removed."""
    kind = value.WhichOneof('value')
    if kind == 'double_value' and float(value.double_value).is_integer():
        target.int_value = int(value.double_value)
    elif kind == 'struct_value' and 'struct' in value.struct_value.fields:
        target.struct_value.CopyFrom(value.struct_value.fields['struct'].struct_value)
    elif kind == 'struct_value' and 'list' in value.struct_value.fields:
        # TFX keeps a list as {"__value__": [...]} (tfx.types.artifact._encode_struct_value).
        target.struct_value.fields['__value__'].CopyFrom(value.struct_value.fields['list'])
    else:
        target.CopyFrom(value)


def _as_local_execution(execution: pb.Execution) -> pb.Execution:
    """A task's execution with its parameters (KFP's `inputs` struct) as properties."""
    result = pb.Execution(id=execution.id, type_id=execution.type_id, name=execution.name,
                          last_known_state=execution.last_known_state,
                          create_time_since_epoch=execution.create_time_since_epoch,
                          last_update_time_since_epoch=execution.last_update_time_since_epoch)
    inputs = execution.custom_properties.get('inputs')
    if inputs is not None and inputs.WhichOneof('value') == 'struct_value':
        for key, field in inputs.struct_value.fields.items():
            kind = field.WhichOneof('kind')
            if kind == 'number_value':
                number = field.number_value
                if float(number).is_integer():
                    result.custom_properties[key].int_value = int(number)
                else:
                    result.custom_properties[key].double_value = number
            elif kind == 'string_value':
                result.custom_properties[key].string_value = field.string_value
            elif kind == 'bool_value':
                result.custom_properties[key].int_value = int(field.bool_value)
    return result


_property_names: Dict[str, Dict[str, int]] = {}


def _declared_properties(title: str) -> Dict[str, int]:
    """The properties the artifact class of a schema title declares ({} when unknown)."""
    if title not in _property_names:
        declared: Dict[str, int] = {}
        try:
            from tfx.orchestration.kubeflow.v2 import compiler_utils
            from tfx.utils import import_utils
            path = compiler_utils.TITLE_TO_CLASS_PATH.get(title, title)
            artifact_class = import_utils.import_class_by_path(path)
            declared = dict(artifact_class().artifact_type.properties)
        except (ImportError, AttributeError, ValueError):
            pass
        _property_names[title] = declared
    return _property_names[title]


def _as_local_artifact(artifact: pb.Artifact, title: str) -> pb.Artifact:
    """An artifact with the properties its TFX class declares as properties and the rest of
    its metadata as custom properties, without what KFP adds about itself."""
    result = pb.Artifact(id=artifact.id, type_id=artifact.type_id, uri=artifact.uri,
                         state=artifact.state,
                         create_time_since_epoch=artifact.create_time_since_epoch,
                         last_update_time_since_epoch=artifact.last_update_time_since_epoch)
    declared = _declared_properties(title)
    for key, value in artifact.custom_properties.items():
        if key in _KFP_ARTIFACT_PROPERTIES:
            continue
        if key in declared:
            kind = declared[key]
            if kind == pb.INT and value.WhichOneof('value') == 'double_value':
                result.properties[key].int_value = int(value.double_value)
            elif kind == pb.STRING and value.WhichOneof('value') == 'string_value':
                result.properties[key].string_value = value.string_value
            elif kind == pb.DOUBLE and value.WhichOneof('value') == 'double_value':
                result.properties[key].double_value = value.double_value
            else:
                _local_value(value, result.custom_properties[key])
        else:
            _local_value(value, result.custom_properties[key])
    return result
