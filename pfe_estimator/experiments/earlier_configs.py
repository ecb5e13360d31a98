"""Experiments recorded before each protocol owned its config, in today's shape.

Report folders (their marker's fingerprint) and reports written then hold an experiment as one flat value: the
fields of every protocol side by side ('protocol': 'held_out', 'seed', 'held_out_protocols', and a head with
'steps', 'ranking_weight', 'learning_rate'). The same run is today's Experiment of the protocol's Config, its
head a fold_heads.Head holding a training.recipe.Recipe (experiments/config.py); `experiment` translates one to
the other, so that a rerun under an earlier name is not refused for the shape alone, and its heads and
figures are the same.
"""
from pfe_estimator.experiments import config as experiment_config
from pfe_estimator.experiments import fold_heads
from pfe_estimator.experiments import work_folder
from pfe_estimator.experiments.protocols import registry
from pfe_estimator.training import recipe as recipes

# today's field <- the earlier one, where the name changed
_RENAMED = {"schemes": "held_out_protocols", "test_seed": "seed"}
_HEADS = ("head", "quality_aware_head", "plain_head")


def is_earlier(experiment):
    """Whether an experiment dict (a report's 'experiment') is in the earlier shape, of a protocol run today."""
    protocol = experiment.get("protocol")
    return isinstance(protocol, str) and protocol in registry.PROTOCOLS


def experiment(earlier):
    """Today's as_dict of an earlier experiment dict (today's defaults for fields it did not record yet)."""
    config_type = registry.module(earlier["protocol"]).Config
    values = {}
    for field in config_type._fields:
        value = earlier.get(_RENAMED.get(field, field))
        if value is not None and field in _HEADS:
            value = head(value)
        if field in earlier or _RENAMED.get(field) in earlier:
            values[field] = tuple(value) if isinstance(value, list) else value
    return experiment_config.as_dict(experiment_config.Experiment(
        earlier["name"], earlier["backbone_precision"], config_type(**values)))


def head(earlier):
    """The fold_heads.Head of an earlier head dict (its rate dropped tenfold at the floor of 2/3 of its steps,
    its graph and batches seeded 0: as it trained)."""
    recipe = recipes.Recipe(
        num_classes_per_batch=earlier["classes_per_batch"], images_per_class=earlier["images_per_class"],
        max_steps=earlier["steps"], learning_rates=(earlier["learning_rate"], earlier["learning_rate"] / 10),
        weight_decay=earlier["weight_decay"], quality_ranking_weight=earlier["ranking_weight"],
        quality_ranking_margin=earlier["ranking_margin"])
    severities = earlier["train_severities"]
    return fold_heads.Head(earlier["input"], recipe, earlier["copies"],
                           tuple(severities) if severities is not None else None, earlier["identity_share"], 0)


def fingerprint(flat_fingerprint):
    """A report folder's fingerprint (work_folder.flat of {'experiment': ..., ...}) in today's shape."""
    experiment_part = _nested({name[len("experiment."):]: value for name, value in flat_fingerprint.items()
                               if name.startswith("experiment.")})
    if not is_earlier(experiment_part):
        return flat_fingerprint
    rest = {name: value for name, value in flat_fingerprint.items() if not name.startswith("experiment.")}
    return dict(rest, **work_folder.flat({"experiment": experiment(experiment_part)}))


def _nested(flat):
    nested = {}
    for name, value in flat.items():
        parts = name.split(".")
        inner = nested
        for part in parts[:-1]:
            inner = inner.setdefault(part, {})
        inner[parts[-1]] = value
    return nested
