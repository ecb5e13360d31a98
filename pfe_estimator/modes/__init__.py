"""Layer 9, the command line: main.py's flags, the run's one configuration, one module per --mode.

  flag_definitions.py  every flag, by concern
  registry.py          the one registry of modes and what a mode module declares
  run_config.py        RunConfig: the flags and the records a run continues, resolved once
  records.py           adopting a model folder's record, an export's, a feature cache's manifest
  precision.py         --backbone_precision=auto decided for the modes that run the backbone
  models.py            the Estimator a mode runs, its checkpoint checked, a training run's record
  embeddings.py        mu and sigma^2 of the images a mode scores
  images.py            image files as the model's input (--align, --resize), training degradations
  train.py  pretrain.py  eval: evaluate.py  predict.py  verify.py  export.py  cache_features.py
                       the modes; calibrate.py fits P(same) on calibration pairs after training
"""
