"""Training run parameters, kept free of TensorFlow so that option parsing stays fast."""

import dataclasses
from typing import Any, Dict, Optional

MIXED_PRECISION_POLICIES = ('mixed_float16',)
# model.ARCHITECTURES, repeated here so that option parsing does not import Keras.
MODELS = ('cnn', 'edge')
# The log message of a progress line from inside a component (its only argument: the line), such
# as the Trainer's line per epoch and ExampleGen's counts; the local runner shows these lines.
PROGRESS_MESSAGE = 'Component progress: %s'


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
    model: str = 'cnn'  # 'cnn' (the seed's) or 'edge' (a compact network for devices)
    model_width: float = 1.0  # edge: its channel multiplier
    model_resolution: int = 0  # edge: the side it runs at; 0: the images' own, up to 32
    # Random rotation, zoom and shift of the training images; None: on for edge, off for cnn.
    augment: Optional[bool] = None
    # Seeds the Trainer's initial weights, shuffling and augmentation; None: a fresh draw.
    seed: Optional[int] = None

    def __post_init__(self):
        if self.epochs < 1 or self.batch_size < 1 or not self.learning_rate > 0:
            raise ValueError(f'epochs and batch_size must be >= 1 and learning_rate > 0: {self}')
        if self.gpus < 0:
            raise ValueError(f'gpus must be 0 or more, not {self.gpus}')
        if self.model not in MODELS:
            raise ValueError(f'model must be one of {MODELS}, not {self.model!r}')
        if not 0 < self.model_width <= 4 or not (self.model_resolution == 0 or
                                                 32 <= self.model_resolution <= 1024):
            raise ValueError('model_width must be in (0, 4] and model_resolution 0 or 32-1024: '
                             f'{self}')
        if self.seed is not None and not 0 <= self.seed < 2**32:
            raise ValueError(f'seed must be in 0-{2**32 - 1}, not {self.seed}')
        if self.mixed_precision not in (None, *MIXED_PRECISION_POLICIES):
            raise ValueError(f'mixed_precision must be one of {MIXED_PRECISION_POLICIES} or '
                             f'unset, not {self.mixed_precision!r}')

    @property
    def augments(self) -> bool:
        return self.model == 'edge' if self.augment is None else self.augment

    def to_custom_config(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_custom_config(cls, custom_config: Optional[Dict[str, Any]]) -> 'TrainingParams':
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in (custom_config or {}).items() if k in names})
