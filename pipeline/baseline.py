"""Resolver strategy for the Evaluator's baseline: the latest blessed model other than the candidate.

TFX's LatestBlessedModelStrategy returns the latest blessed model, which on a re-run with
nothing changed is the candidate itself: the Evaluator's inputs change, so it and the Pusher run
again to compare a model with itself. Excluding the candidate keeps a repeated run fully cached
and still compares every new model with the last good one.

Kubeflow's v2 compiler accepts only TFX's built-in strategies, so runners for it use
LatestBlessedModelStrategy instead (see `create_pipeline(baseline_excludes_candidate=...)`).
"""

from typing import Dict, List, Optional

import ml_metadata as mlmd
from tfx import types
from tfx.dsl.components.common import resolver

CANDIDATE_KEY = 'candidate'
MODEL_KEY = 'model'
BLESSING_KEY = 'model_blessing'

# Custom properties TFX's Evaluator writes on a ModelBlessing.
_BLESSED = 'blessed'
_CURRENT_MODEL_ID = 'current_model_id'


def pick_baseline(candidates: List[types.Artifact], models: List[types.Artifact],
                  blessings: List[types.Artifact]) -> Dict[str, List[types.Artifact]]:
    """The newest blessed model whose id is not a candidate's, with its blessing."""
    excluded = {model.id for model in candidates}
    blessing_of = {b.get_int_custom_property(_CURRENT_MODEL_ID): b for b in blessings
                   if b.get_int_custom_property(_BLESSED) == 1}
    for model in sorted(models, key=lambda a: a.id, reverse=True):
        if model.id not in excluded and model.id in blessing_of:
            return {CANDIDATE_KEY: candidates, MODEL_KEY: [model],
                    BLESSING_KEY: [blessing_of[model.id]]}
    return {CANDIDATE_KEY: candidates, MODEL_KEY: [], BLESSING_KEY: []}


class PreviousBlessedModelStrategy(resolver.ResolverStrategy):
    """Inputs: `candidate` (the Trainer's model), `model` and `model_blessing` (all of each)."""

    def resolve_artifacts(
        self, store: mlmd.MetadataStore, input_dict: Dict[str, List[types.Artifact]]
    ) -> Optional[Dict[str, List[types.Artifact]]]:
        del store
        return pick_baseline(input_dict.get(CANDIDATE_KEY, []), input_dict.get(MODEL_KEY, []),
                             input_dict.get(BLESSING_KEY, []))
