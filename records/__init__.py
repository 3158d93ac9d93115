"""The records of runs: reading ML Metadata (local and Kubeflow layouts), the summary, the report
and the inspect command."""
