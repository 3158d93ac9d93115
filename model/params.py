"""Training run parameters, kept free of TensorFlow so that option parsing stays fast."""

import dataclasses
from typing import Any, Dict, Optional

MIXED_PRECISION_POLICIES = ('mixed_float16',)


@dataclasses.dataclass(frozen=True)
class TrainingParams:
    """What a run may change about training; the defaults are the seed's."""
    epochs: int = 5
    batch_size: int = 64  # per replica: the global batch is this times the replica count
    learning_rate: float = 1e-3
    mixed_precision: Optional[str] = None  # None or 'mixed_float16'
    # GPUs the Trainer must see (it fails with one line when fewer are visible); 0: it trains
    # on whatever MirroredStrategy finds, the CPU included. Kubeflow's --gpus sets it.
    gpus: int = 0

    def __post_init__(self):
        if self.epochs < 1 or self.batch_size < 1 or not self.learning_rate > 0:
            raise ValueError(f'epochs and batch_size must be >= 1 and learning_rate > 0: {self}')
        if self.gpus < 0:
            raise ValueError(f'gpus must be 0 or more, not {self.gpus}')
        if self.mixed_precision not in (None, *MIXED_PRECISION_POLICIES):
            raise ValueError(f'mixed_precision must be one of {MIXED_PRECISION_POLICIES} or '
                             f'unset, not {self.mixed_precision!r}')

    def to_custom_config(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_custom_config(cls, custom_config: Optional[Dict[str, Any]]) -> 'TrainingParams':
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in (custom_config or {}).items() if k in names})
