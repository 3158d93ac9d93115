"""Node ids of the pipeline, in DAG order: summaries, inspect and tests name components by these.

Kept free of imports so that reading ML Metadata does not have to load TFX.
"""

EXAMPLE_GEN = 'ImageExampleGen'
STATISTICS_GEN = 'StatisticsGen'
SCHEMA_GEN = 'DataSchemaGen'
EXAMPLE_VALIDATOR = 'ExampleValidator'
BASELINE_STATISTICS = 'BaselineStatistics'
ANOMALIES_GATE = 'AnomaliesGate'
TRANSFORM = 'Transform'
TRAINER = 'Trainer'
BASELINE_MODEL = 'BaselineModel'
EVALUATOR = 'Evaluator'
TFLITE_EXPORTER = 'TFLiteExporter'
TFLITE_VALIDATOR = 'TFLiteValidator'
TFJS_EXPORTER = 'TFJSExporter'
PUSHER = 'Pusher'
COMPONENTS = (EXAMPLE_GEN, SCHEMA_GEN, STATISTICS_GEN, EXAMPLE_VALIDATOR, BASELINE_STATISTICS,
              ANOMALIES_GATE, TRANSFORM, TRAINER, BASELINE_MODEL, EVALUATOR, TFLITE_EXPORTER,
              TFLITE_VALIDATOR, TFJS_EXPORTER, PUSHER)
