"""Layer 5, training: the losses, the recipe, the device switch, the model_fns and the one way a model
folder is trained.

  recipe.py        the head's and pretraining's recipes as values (the released sphere64_casia defaults)
  losses.py        the MLS loss on P x K batches with static pairs, the quality ranking loss, AM-softmax
  optimization.py  weight decay, the learning-rate schedule, Momentum wrapped for the device
  devices.py       Runtime (device, rank, precision, checkpoints), NPUEstimator or Estimator, npu_bridge
  pfe_model.py     the PFE model_fn: frozen backbone -> mu, head -> sigma^2, MLS on the head only
  pretrain.py      the backbone's AM-softmax model_fn
  estimators.py    where a training run is wired: model_fn and Estimator from recipe, backbone, runtime
  fit.py           training a model folder to its last step: its lock, its record, a checked resume
  hooks.py         the step log: loss, steps/s, images/s
"""
