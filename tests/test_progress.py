"""Progress lines from TFX's log records, including failures LocalDagRunner does not raise."""

import io
import logging

from image_tfx.runner.progress import ProgressHandler


def _log(handler, level, msg, *args):
    handler.handle(logging.LogRecord('absl', level, __file__, 1, msg, args, None))


def test_training_epochs_are_shown_under_the_trainer():
    """The Trainer's per-epoch line (model/trainer.py EpochProgress) is a progress line."""
    from image_tfx.model.params import PROGRESS_MESSAGE
    out = io.StringIO()
    handler = ProgressHandler(out)
    _log(handler, logging.INFO, 'Component %s is running.', 'Trainer')
    _log(handler, logging.INFO, PROGRESS_MESSAGE, 'epoch 1/2: loss 0.5000, 3,000 images/s')
    _log(handler, logging.INFO, 'epoch %d: %s', 1, 'other Trainer logs stay hidden')
    _log(handler, logging.INFO, 'Component %s is finished.', 'Trainer')
    lines = out.getvalue().splitlines()
    assert lines[1].strip() == 'epoch 1/2: loss 0.5000, 3,000 images/s' and len(lines) == 3


def test_a_silent_component_gets_a_line_with_its_elapsed_time():
    import time
    out = io.StringIO()
    handler = ProgressHandler(out, heartbeat=0.3)
    _log(handler, logging.INFO, 'Component %s is running.', 'StatisticsGen')
    time.sleep(1.0)
    _log(handler, logging.INFO, 'Component %s is finished.', 'StatisticsGen')
    time.sleep(0.5)
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ['start', 'StatisticsGen'] and lines[-1].split()[0] == 'done'
    ticks = lines[1:-1]
    assert ticks and all(t.strip().startswith('StatisticsGen running, ') for t in ticks), lines


def test_done_cached_and_silently_failed_components():
    out = io.StringIO()
    handler = ProgressHandler(out)
    _log(handler, logging.INFO, 'Component %s is running.', 'Trainer')
    _log(handler, logging.INFO, 'Component %s is finished.', 'Trainer')
    _log(handler, logging.INFO, 'Component %s is running.', 'Evaluator')
    _log(handler, logging.INFO, 'A cached execution %d is used.', 7)
    _log(handler, logging.INFO, 'Component %s is finished.', 'Evaluator')
    _log(handler, logging.INFO, 'Component %s is running.', 'Pusher')
    # The launcher logs with a format string: '[%s] Input resolution error: %s'.
    _log(handler, logging.ERROR, '[%s] Input resolution error: %s\nTraceback ...', 'Pusher',
         'no model')
    _log(handler, logging.ERROR, 'some other component\'s noise')
    _log(handler, logging.INFO, 'Component %s is finished.', 'Pusher')
    states = [line.split()[0] for line in out.getvalue().splitlines() if 'start' not in line]
    assert states == ['done', 'cached', 'FAILED']
    assert handler.errors == {'Pusher': '[Pusher] Input resolution error: no model'}


def test_a_swallowed_ctrl_c_stops_the_run_at_the_next_component_boundary():
    """Ctrl-C's KeyboardInterrupt can be swallowed where it lands (it was, inside StatisticsGen's
    Beam pipeline, and the run went on); run_local's handler marks it, and the next record of a
    component finishing or starting raises it again, naming the component."""
    import pytest
    out = io.StringIO()
    handler = ProgressHandler(out)
    _log(handler, logging.INFO, 'Component %s is running.', 'StatisticsGen')
    handler.interrupt_requested = True
    with pytest.raises(KeyboardInterrupt):
        _log(handler, logging.INFO, 'Component %s is finished.', 'StatisticsGen')
    assert handler.failed('STOPPED') == 'StatisticsGen'
    assert out.getvalue().split()[-3] == 'STOPPED'
    with pytest.raises(KeyboardInterrupt):
        _log(handler, logging.INFO, 'Component %s is running.', 'ExampleValidator')


def test_components_side_by_side_are_told_apart_by_their_threads():
    """Two components running at once (runner/scheduler.py): each record is the component's
    whose thread logged it; a launch that raised ends its line at once."""
    from image_tfx.model.params import PROGRESS_MESSAGE
    out = io.StringIO()
    handler = ProgressHandler(out, heartbeat=0)

    def log(thread, level, msg, *args):
        record = logging.LogRecord('absl', level, __file__, 1, msg, args, None)
        record.thread = thread
        handler.handle(record)

    log(1, logging.INFO, 'Component %s is running.', 'Evaluator')
    log(2, logging.INFO, 'Component %s is running.', 'TFJSExporter')
    assert handler.running == ['Evaluator', 'TFJSExporter']
    log(2, logging.INFO, 'A cached execution %d is used.', 3)
    log(1, logging.INFO, PROGRESS_MESSAGE, 'a line from the Evaluator')
    log(1, logging.ERROR, '[%s] Input resolution error: %s', 'Evaluator', 'no model')
    log(1, logging.INFO, 'Component %s failed.', 'Evaluator')
    log(2, logging.INFO, 'Component %s is finished.', 'TFJSExporter')
    lines = [line.split() for line in out.getvalue().splitlines()]
    assert [words[:2] for words in lines[2:]] == [
        ['a', 'line'], ['FAILED', 'Evaluator'], ['cached', 'TFJSExporter']], lines
    assert handler.errors == {'Evaluator': '[Evaluator] Input resolution error: no model'}
    assert handler.raised == ['Evaluator'] and handler.running == []
