"""Layer 8, experiments: a measured run as one value from a config file (configs/), the protocols that
train fold heads on LFW and score them, and the work folder where what they make is kept by what made it.

  config.py                the Experiment and Head values, loading a config file, --set, one-line checks
  run.py                   run(config, inputs): everything one experiment does (flax's train_and_evaluate)
  work_folder.py           every artefact named after its key; the report folder claimed per configuration
  lfw_data.py              aligned LFW, SFace's precision, its caches, subsets and degraded test sides
  fold_heads.py            one head per people.txt fold, trained through training/fit.py, and its sigma^2
  lfw_folds.py             protocol lfw_folds: LFW by identity, cross-quality LFW, quality-aware heads
  held_out_protocols.py    protocol held_out: leave-one-kind-out and unseen severities
  reference_model.py       protocol reference_model: one head, calibrated on unseen people, exported
  all_pairs_protocol.py    protocol all_pairs: every pair within folds, the shipped decision per stratum, EDC
  cross_quality_photos.py  cross-quality LFW's degraded photos (data_prep/make_cross_quality_lfw.py's half)
"""
