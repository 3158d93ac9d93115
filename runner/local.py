"""The local runner: the whole pipeline on this machine, each node launched as TFX's LocalDagRunner
launches it, independent nodes at once (runner/scheduler.py).

Its command line is pipeline/run_local.py (`python pipeline/run_local.py --help`). Prints one
line per component and a summary; exits 0 when the run completed, 1 when a component failed
(bad data stopped by the validator gate, a failed step), 2 for bad options, unreadable input
data or an output root that cannot be written, 130 when interrupted (Ctrl-C).
"""

import argparse
import datetime
import logging
import os
import signal
import sys
import threading
import warnings

from image_tfx.data import images as imaging
from image_tfx.data import object_store
from image_tfx.data import sources
from image_tfx.runner import options
from image_tfx.runner.config import RunConfig
from image_tfx.tools import cli


def _quiet_logging() -> None:
    """Hides TensorFlow's, Beam's and TFX's own logs; progress lines replace them (the
    loggers stay open: progress reads TFX's and the Trainer's records)."""
    cli.quiet_libraries()
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(logging.NullHandler())


class _RedactFilter(logging.Filter):
    """Replaces a secret in every log record: TFX logs the whole MLMD connection config."""

    def __init__(self, secret: str):
        super().__init__()
        self._secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self._secret in message:
            record.msg, record.args = message.replace(self._secret, '***'), ()
        return True


def _stop_child_processes(timeout: float = 5.0) -> None:
    """Terminates every process this one started, and theirs; kills what is left after
    `timeout` seconds."""
    import psutil
    children = psutil.Process().children(recursive=True)
    for child in children:
        try:
            child.terminate()
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(children, timeout=timeout)
    for child in alive:
        try:
            child.kill()
        except psutil.Error:
            pass


def _server_answers(metadata, target: str) -> bool:
    try:
        metadata.open_store(target)
        return True
    except metadata.MetadataError:
        return False


def _check_gpus(count: int) -> str:
    """Why the Trainer could not have the GPUs asked for; '' when it can (the Trainer checks
    again where it runs, which on Kubeflow is another machine)."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # import-time notices of TensorFlow's dependencies
        from image_tfx.model import trainer
    try:
        trainer.require_gpus(count)
    except trainer.GpuError as e:
        return str(e)
    return ''


def _check_output_root(config: RunConfig) -> str:
    """Why the output root (or the SQLite file's folder) cannot be written; '' when it can.

    An object store is checked before anything local is made, and only for as long as
    object_store.PROBE_TIMEOUT_SECONDS."""
    problem = config.metadata_problem()
    if problem:
        return problem
    folders = []
    if config.remote:
        problem = object_store.check(config.root)
        if problem:
            return problem
    else:
        folders.append(config.root)
    if not config.metadata_target.startswith('mysql://'):
        folders.append(os.path.dirname(os.path.abspath(config.metadata_target)))
    for folder in folders:
        try:
            os.makedirs(folder, exist_ok=True)
            probe = os.path.join(folder, f'.write-check-{os.getpid()}')
            with open(probe, 'w'):
                pass
            os.remove(probe)
        except OSError as e:
            return f'{folder}: cannot write there ({e.strerror or e})'
    return ''


def _serving_problem(config: RunConfig, spec: sources.ImageSpec) -> str:
    """Why the serving directory cannot take models for this data ('' when it can).

    A serving directory serves one input contract: a client of its models must not receive,
    from one version to the next, a model for other images or other classes. The last pushed
    model is also the Evaluator's baseline, which must take the same examples.
    """
    from image_tfx.components import pushed_layout
    from image_tfx.components.artifacts import FLOAT32_FILE
    version, card = pushed_layout.latest(config.serving_dir)
    if card is None:
        return ''
    shape = tuple(card.get('inputs', {}).get(FLOAT32_FILE, {}).get('shape', [0, 0, 0, 0])[1:])
    classes = len(card.get('classes', []))
    if shape == spec.shape and classes == spec.num_classes:
        return ''
    pushed = sources.ImageSpec(*shape, class_names=tuple(card.get('classes', [])))
    return (f'{config.serving_dir}: its models (version {version}) take {pushed.describe()}; '
            f'this data is {spec.describe()}. Use another --pipeline-name (or --output-root) '
            'for a model of another kind')


def _finish(metadata, target: str, run_id: str, interrupted: bool = False,
            error: str = '') -> None:
    """Records the end of a run in ML Metadata, if ML Metadata still answers."""
    from ml_metadata import errors as mlmd_errors
    try:
        metadata.finish_run(metadata.open_store(target, create=True), run_id, interrupted,
                            error)
    except (metadata.MetadataError, mlmd_errors.StatusError):
        pass  # a lost MySQL server is reported with the run's failure


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog='run_local.py',
        description='Run the TFX image classification pipeline locally: ExampleGen -> '
        'StatisticsGen -> DataSchemaGen -> ExampleValidator (gate) -> Transform -> Trainer -> '
        'Evaluator -> '
        'Pusher.')
    options.add_arguments(parser)
    parser.add_argument('--dry-run', action='store_true',
                        help='check the options, the data and the output root (a probe file is '
                        'written there and deleted), print where everything would go, and stop')
    parser.add_argument('--verbose', action='store_true',
                        help="show TFX's, Beam's and TensorFlow's own logs")
    return parser.parse_args(argv)


def _redacted(target: str) -> str:
    if target.startswith('mysql://'):
        from image_tfx.records import metadata
        return metadata.redact(target)
    return target


def run(config: RunConfig, verbose: bool = False, stream=sys.stdout,
        dry_run: bool = False) -> int:
    """Runs the pipeline for a config; returns the process exit code."""
    if not verbose:
        _quiet_logging()
    if config.data and object_store.is_remote(config.data):
        problem = object_store.prepare(config.data)
        if problem:
            print(f'error: {problem}', file=sys.stderr)
            return 2
    try:
        source = sources.detect_source(config.data or sources.default_data_path())
        checked = sources.check_source(source, imaging.parse_size(config.image_size)
                                       if config.image_size else sources.NO_SIZE)
    except sources.DataError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    counts = checked.counts
    # What sizes the DirectRunner and how many components run at once: the images counted as
    # the 28x28 digits the memory figure was measured with.
    load = options.digit_equivalents(sum(counts.values()), checked.spec.shape)
    problem = (options.check_class_names(config, checked.spec)
               or (_check_gpus(config.gpus) if config.gpus else '') or _check_output_root(config))
    if problem:
        print(f'error: {problem}', file=sys.stderr)
        return 2
    print(f'Data: {source.path} ({source.format}; '
          + ', '.join(f'{split} {n:,} images' for split, n in counts.items())
          + f'; {checked.spec.describe()})', file=stream)
    if checked.skipped:
        print(f'  skipped {len(checked.skipped)} file(s) that are not images: '
              + ', '.join(checked.skipped[:3]) + (', ...' if len(checked.skipped) > 3 else ''),
              file=stream)
    if dry_run:
        print(f'Pipeline {config.pipeline_name}: artifacts under {config.pipeline_root}\n'
              f'  pushed to:   {config.serving_dir}\n'
              f'  ML Metadata: {_redacted(config.metadata_target)}\n'
              f'  Beam:        '
              + ' '.join(options.beam_pipeline_args(config, load))
              + '\ndry run: the options, the data and the output root are usable; nothing ran',
              file=stream)
        return 0

    # Heavy imports (TensorFlow, TFX, Beam) only once the options and data are known good.
    from absl import logging as absl_logging
    from ml_metadata import errors as mlmd_errors
    from tfx.dsl.compiler import compiler
    from tfx.dsl.compiler import constants as compiler_constants
    from tfx.orchestration.portable import runtime_parameter_utils
    from image_tfx.records import metadata
    from image_tfx.pipeline import pipeline as pipeline_def
    from image_tfx.runner import progress
    from image_tfx.runner import scheduler
    from image_tfx.records import report
    from image_tfx.records import summary

    absl_logging.set_verbosity(absl_logging.INFO)
    if not verbose:
        absl_logging.get_absl_handler().setLevel(logging.CRITICAL)
        logging.getLogger('tensorflow').setLevel(logging.ERROR)
    handler = progress.ProgressHandler(stream)
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.INFO)

    target = config.metadata_target
    password = metadata.connection_config(target).mysql.password if metadata.is_mysql(
        target) else ''
    if password:
        for log_handler in logging.getLogger().handlers:
            log_handler.addFilter(_RedactFilter(password))
    try:
        metadata.open_store(target, create=True)
    except metadata.MetadataError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    problem = _serving_problem(config, checked.spec)
    if problem:
        print(f'error: {problem}', file=sys.stderr)
        return 2
    tfx_pipeline = pipeline_def.create_pipeline(
        **options.pipeline_kwargs(config, source, image_count=load),
        metadata_connection_config=metadata.connection_config(target, create=True))
    print(f'Pipeline {config.pipeline_name}: artifacts under {config.pipeline_root}', file=stream)
    # Name the run here rather than inside LocalDagRunner, so that the summary and the report
    # describe this run even when another one writes to the same ML Metadata at the same time.
    pipeline_ir = compiler.Compiler().compile(tfx_pipeline)
    run_id = datetime.datetime.now().isoformat()
    runtime_parameter_utils.substitute_runtime_parameter(
        pipeline_ir, {compiler_constants.PIPELINE_RUN_ID_PARAMETER_NAME: run_id})
    # Recorded with the process that runs it, so that `inspect runs` can tell a run whose
    # process is gone from one still running.
    metadata.register_run(metadata.open_store(target, create=True), run_id)

    def _interrupt(signum, frame):  # Ctrl-C, remembered in case what it lands in swallows it
        handler.interrupt_requested = True
        raise KeyboardInterrupt

    previous_sigint = (signal.signal(signal.SIGINT, _interrupt)
                       if threading.current_thread() is threading.main_thread() else None)
    try:
        scheduler.ConcurrentDagRunner(
            workers=config.components_at_once or options.concurrent_components(load),
            # The TFLite check times the model one image at a time on this machine.
            alone={pipeline_def.TFLITE_VALIDATOR}).run_with_ir(pipeline_ir)
        failure = None
    except KeyboardInterrupt:
        component = handler.failed('STOPPED')
        # The components' threads are left to the process's end; what they started (the
        # converters, Chromium) would outlive it.
        _stop_child_processes()
        _finish(metadata, target, run_id, interrupted=True)
        print('\ninterrupted' + (f' during {component}' if component else '')
              + f' (run {run_id} recorded as interrupted)', file=sys.stderr)
        return 130
    except Exception as e:
        failure = e
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
        if previous_sigint is not None:
            signal.signal(signal.SIGINT, previous_sigint)
    error = ''
    if failure is None and handler.errors:
        # A component failed without an exception reaching us (see ProgressHandler).
        component, message = next(iter(handler.errors.items()))
        failure = RuntimeError(message)
        error = f'{component} failed: {message}'
    elif failure is not None:
        component = handler.failed() or (handler.raised[0] if handler.raised else
                                         'the pipeline')
        if metadata.is_mysql(target) and not _server_answers(metadata, target):
            print(f'\nerror: lost the ML Metadata server ({metadata.redact(target)}) during '
                  f'{component}: {failure}', file=sys.stderr)
            return 1
        error = f'{component} failed: {failure}'
    if error:
        print(f'\nerror: {error}', file=sys.stderr)
    # The reason is kept with the run: `inspect` and the report show why it failed.
    _finish(metadata, target, run_id, error=error)
    try:
        store = metadata.open_store(target)
        run_summary = summary.summarize(store, config.pipeline_name, metadata.redact(target),
                                        run_id)
        print('\n' + summary.format_summary(run_summary, config.accuracy_threshold), file=stream)
        report_path = report.write_report(
            store, config.pipeline_name, run_summary.run_id,
            object_store.join(config.reports_dir,
                              f'{run_summary.run_id.replace(":", "-")}.html'),
            metadata.redact(target), run_summary)
        print(f'  Report:      {report_path}', file=stream)
    except (metadata.MetadataError, mlmd_errors.StatusError) as e:
        print(f'(no summary: {e})', file=sys.stderr)
    except Exception as e:  # the run is over and recorded: its outcome stands, in one line
        first = ' '.join(str(e).split())[:300] or type(e).__name__
        print(f'(no summary or report: {type(e).__name__}: {first})', file=sys.stderr)
    return 1 if failure is not None else 0


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.metadata_password_file:
        from image_tfx.records import metadata
        try:
            metadata.use_password_file(args.metadata_password_file)
        except metadata.MetadataError as e:
            print(f'error: {e}', file=sys.stderr)
            return 2
    try:
        return run(options.config_from_args(args), verbose=args.verbose, dry_run=args.dry_run)
    except KeyboardInterrupt:  # before or after the pipeline itself (imports, summary)
        print('\ninterrupted', file=sys.stderr)
        return 130


def run_command(argv=None) -> None:
    """main, then the process ends: after Ctrl-C, Beam's and TensorFlow's worker threads may
    still be busy, and after a store that did not answer, the probe's: do not wait for them
    (or print their tracebacks)."""
    code = main(argv)
    object_store.exit_now(code, abandon_threads=code in (2, 130))


if __name__ == '__main__':
    run_command()
