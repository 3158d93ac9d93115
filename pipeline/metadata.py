"""Reading what a run recorded in ML Metadata: its executions and their artifacts by node."""

import dataclasses
import os
from typing import Dict, List, Optional

import ml_metadata as mlmd
from ml_metadata.proto import metadata_store_pb2

PIPELINE_RUN_CONTEXT = 'pipeline_run'
NODE_CONTEXT = 'node'

STATE_NAMES = {
    metadata_store_pb2.Execution.COMPLETE: 'complete',
    metadata_store_pb2.Execution.CACHED: 'cached',
    metadata_store_pb2.Execution.FAILED: 'failed',
    metadata_store_pb2.Execution.RUNNING: 'running',
    metadata_store_pb2.Execution.NEW: 'new',
    metadata_store_pb2.Execution.CANCELED: 'canceled',
    metadata_store_pb2.Execution.UNKNOWN: 'unknown',
}


class MetadataError(RuntimeError):
    """ML Metadata cannot be read, or does not hold what was asked for."""


def open_store(path: str) -> mlmd.MetadataStore:
    """Opens an existing SQLite ML Metadata file (never creates one)."""
    if not os.path.isfile(path):
        raise MetadataError(f'{path}: no ML Metadata database there')
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = path
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    try:
        return mlmd.MetadataStore(config)
    except Exception as e:  # MLMD raises its own status errors for a non-MLMD file
        raise MetadataError(f'{path}: not an ML Metadata database ({e})') from None


@dataclasses.dataclass
class NodeRun:
    """One node's execution in a pipeline run, with its artifacts by input/output key."""
    node_id: str
    execution: metadata_store_pb2.Execution
    inputs: Dict[str, List[metadata_store_pb2.Artifact]]
    outputs: Dict[str, List[metadata_store_pb2.Artifact]]

    @property
    def state(self) -> str:
        return STATE_NAMES.get(self.execution.last_known_state, 'unknown')

    @property
    def seconds(self) -> float:
        return (self.execution.last_update_time_since_epoch
                - self.execution.create_time_since_epoch) / 1000.0


def run_ids(store: mlmd.MetadataStore, pipeline_name: str) -> List[str]:
    """Run ids of a pipeline, oldest first."""
    prefix = f'{pipeline_name}.'
    node_contexts = {c.id for c in store.get_contexts_by_type(NODE_CONTEXT)
                     if c.name.startswith(prefix)}
    runs = []
    for context in store.get_contexts_by_type(PIPELINE_RUN_CONTEXT):
        executions = store.get_executions_by_context(context.id)
        if not executions:
            continue
        attributed = store.get_contexts_by_execution(executions[0].id)
        if any(c.id in node_contexts for c in attributed):
            runs.append(context)
    runs.sort(key=lambda c: (c.create_time_since_epoch, c.id))
    return [c.name for c in runs]


def _artifacts_by_key(store, events, event_types) -> Dict[str, List[metadata_store_pb2.Artifact]]:
    wanted = [e for e in events if e.type in event_types]
    artifacts = {a.id: a for a in store.get_artifacts_by_id([e.artifact_id for e in wanted])}
    result: Dict[str, List[metadata_store_pb2.Artifact]] = {}
    for event in wanted:
        key = event.path.steps[0].key if event.path.steps else ''
        result.setdefault(key, []).append(artifacts[event.artifact_id])
    return result


def node_runs(store: mlmd.MetadataStore, pipeline_name: str,
              run_id: Optional[str] = None) -> Dict[str, NodeRun]:
    """Every node's execution in a run (default: the latest run), by node id."""
    if run_id is None:
        ids = run_ids(store, pipeline_name)
        if not ids:
            raise MetadataError(f'no runs of pipeline {pipeline_name!r} in ML Metadata')
        run_id = ids[-1]
    run_context = store.get_context_by_type_and_name(PIPELINE_RUN_CONTEXT, run_id)
    if run_context is None:
        raise MetadataError(f'no pipeline run {run_id!r} in ML Metadata')
    result = {}
    prefix = f'{pipeline_name}.'
    for execution in store.get_executions_by_context(run_context.id):
        node = next((c.name[len(prefix):] for c in store.get_contexts_by_execution(execution.id)
                     if c.type == NODE_CONTEXT or c.name.startswith(prefix)), None)
        if node is None:
            continue
        events = store.get_events_by_execution_ids([execution.id])
        input_types = (metadata_store_pb2.Event.INPUT, metadata_store_pb2.Event.DECLARED_INPUT)
        output_types = (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT)
        previous = result.get(node)
        if previous is None or previous.execution.id < execution.id:
            result[node] = NodeRun(node, execution, _artifacts_by_key(store, events, input_types),
                                   _artifacts_by_key(store, events, output_types))
    return result
