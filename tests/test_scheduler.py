"""The scheduler runs independent nodes at once and otherwise as TFX's LocalDagRunner does:
the same ML Metadata records, TFX's cache, a failing node stopping what depends on it."""

import datetime
import io
import json
import os
import time

import pytest
from tfx import v1 as tfx
from tfx.dsl.component.experimental.annotations import OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types import standard_artifacts

from image_tfx.runner.progress import ProgressHandler
from image_tfx.runner.scheduler import ConcurrentDagRunner

Marker = standard_artifacts.String


def _stamp(folder: str, name: str, fail: bool = False) -> None:
    """Sleeps a little, recording when it ran; raises when told to."""
    started = time.time()
    time.sleep(0.8)
    with open(os.path.join(folder, f'{name}.json'), 'w') as f:
        json.dump([started, time.time()], f)
    if fail:
        raise RuntimeError(f'{name} failed on purpose')


@component
def First(folder: Parameter[str], out: OutputArtifact[Marker]):
    _stamp(folder, 'First')


@component
def Left(folder: Parameter[str], source: tfx.dsl.components.InputArtifact[Marker],
         out: OutputArtifact[Marker]):
    _stamp(folder, 'Left')


@component
def Right(folder: Parameter[str], source: tfx.dsl.components.InputArtifact[Marker],
          out: OutputArtifact[Marker], fail: Parameter[int] = 0):
    _stamp(folder, 'Right', fail=bool(fail))


@component
def Last(folder: Parameter[str], left: tfx.dsl.components.InputArtifact[Marker],
         right: tfx.dsl.components.InputArtifact[Marker], out: OutputArtifact[Marker]):
    _stamp(folder, 'Last')


def _pipeline(root, folder, fail=0):
    first = First(folder=folder)
    left = Left(folder=folder, source=first.outputs['out'])
    right = Right(folder=folder, source=first.outputs['out'], fail=fail)
    last = Last(folder=folder, left=left.outputs['out'], right=right.outputs['out'])
    return tfx.dsl.Pipeline(
        pipeline_name='diamond', pipeline_root=str(root / 'tfx'),
        components=[first, left, right, last], enable_cache=True,
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            str(root / 'metadata.sqlite')))


def _compiled(pipeline):
    from tfx.dsl.compiler import compiler
    from tfx.dsl.compiler import constants
    from tfx.orchestration.portable import runtime_parameter_utils
    ir = compiler.Compiler().compile(pipeline)
    runtime_parameter_utils.substitute_runtime_parameter(
        ir, {constants.PIPELINE_RUN_ID_PARAMETER_NAME: datetime.datetime.now().isoformat()})
    return ir


def _times(folder):
    return {name[:-5]: json.load(open(os.path.join(folder, name)))
            for name in os.listdir(folder)}


def _executions(root):
    """(node, state) of every execution, and the artifacts' types and the contexts' types."""
    from ml_metadata.metadata_store import metadata_store
    from ml_metadata.proto import metadata_store_pb2
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = str(root / 'metadata.sqlite')
    store = metadata_store.MetadataStore(config)
    states = metadata_store_pb2.Execution.State.Name
    executions = sorted((e.properties['component_id'].string_value
                         if 'component_id' in e.properties else
                         store.get_execution_types_by_id([e.type_id])[0].name,
                         states(e.last_known_state)) for e in store.get_executions())
    contexts = sorted(store.get_context_types_by_id([c.type_id])[0].name
                      for c in store.get_contexts())
    events = sorted(metadata_store_pb2.Event.Type.Name(e.type)
                    for e in store.get_events_by_execution_ids(
                        [e.id for e in store.get_executions()]))
    return executions, contexts, events, len(store.get_artifacts())


def test_independent_nodes_overlap_and_the_records_are_local_dag_runners(tmp_path, log_records):
    from tfx.orchestration.local.local_dag_runner import LocalDagRunner
    for name, runner in (('tfx', LocalDagRunner()), ('ours', ConcurrentDagRunner(workers=2))):
        folder = tmp_path / name / 'stamps'
        folder.mkdir(parents=True)
        ir = _compiled(_pipeline(tmp_path / name, str(folder)))
        if name == 'tfx':
            runner.run_with_ir(ir)
        else:
            out = io.StringIO()
            with log_records(ProgressHandler(out, heartbeat=0)):
                runner.run_with_ir(ir)
        times = _times(str(folder))
        assert set(times) == {'First', 'Left', 'Right', 'Last'}
        assert times['First'][1] <= min(times['Left'][0], times['Right'][0])
        assert max(times['Left'][1], times['Right'][1]) <= times['Last'][0]
        overlap = min(times['Left'][1], times['Right'][1]) - max(times['Left'][0],
                                                                 times['Right'][0])
        assert (overlap > 0.3) == (name == 'ours'), (name, times)
    # What ML Metadata holds after each: the same executions, contexts, events, artifacts.
    assert _executions(tmp_path / 'ours') == _executions(tmp_path / 'tfx')
    lines = out.getvalue().splitlines()
    assert sorted(line.split()[1] for line in lines if line.split()[0] == 'done') == [
        'First', 'Last', 'Left', 'Right'], lines
    # Left and Right both started before either finished.
    order = [tuple(line.split()[:2]) for line in lines]
    assert order.index(('start', 'Right')) < order.index(('done', 'Left')) or \
        order.index(('start', 'Left')) < order.index(('done', 'Right')), lines

    # Unchanged, every node is TFX's cache's, as with LocalDagRunner.
    folder = tmp_path / 'ours' / 'stamps'
    for stamp in os.listdir(folder):
        os.remove(folder / stamp)
    out = io.StringIO()
    with log_records(ProgressHandler(out, heartbeat=0)):
        ConcurrentDagRunner(workers=2).run_with_ir(_compiled(_pipeline(tmp_path / 'ours',
                                                                       str(folder))))
    assert not os.listdir(folder)
    assert [line.split()[0] for line in out.getvalue().splitlines()
            if line.split()[0] != 'start'] == ['cached'] * 4, out.getvalue()


def test_a_failing_node_stops_what_depends_on_it_and_its_error_is_raised(tmp_path,
                                                                         log_records):
    folder = tmp_path / 'stamps'
    folder.mkdir()
    out = io.StringIO()
    with log_records(ProgressHandler(out, heartbeat=0)) as handler:
        with pytest.raises(RuntimeError, match='Right failed on purpose'):
            ConcurrentDagRunner(workers=2).run_with_ir(
                _compiled(_pipeline(tmp_path, str(folder), fail=1)))
    assert set(_times(str(folder))) == {'First', 'Left', 'Right'}  # Last never ran
    executions, _, _, _ = _executions(tmp_path)
    assert [state for _, state in executions].count('FAILED') == 1
    assert [state for _, state in executions].count('COMPLETE') == 2
    # Its line says so when it fails, not at the end; it is the one the run names.
    assert ('FAILED', 'Right') in [tuple(line.split()[:2]) for line in out.getvalue().splitlines()]
    assert handler.raised == ['Right'] and handler.failed() is None


def test_a_node_named_alone_runs_with_nothing_beside_it(tmp_path):
    folder = tmp_path / 'stamps'
    folder.mkdir()
    ConcurrentDagRunner(workers=2, alone={'Left'}).run_with_ir(
        _compiled(_pipeline(tmp_path, str(folder))))
    times = _times(str(folder))
    left, right = times['Left'], times['Right']
    assert left[1] <= right[0] or right[1] <= left[0], times
