"""Custom TFX components of this pipeline, each as spec + executor + component."""
