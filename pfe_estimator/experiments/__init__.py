"""Layer 8, experiments: a measured run as one value from a config file (configs/), the protocols that
train fold heads on LFW and score them, and the work folder where what they make is kept by what made it.

  config.py                the Experiment value (its name, SFace's precision, its protocol's Config), loading a
                           config file, --set by field path, one-line checks
  earlier_configs.py       experiments recorded before each protocol owned its config, in today's shape
  run.py                   run(config, inputs): everything one experiment does (flax's train_and_evaluate)
  work_folder.py           every artefact named after its key; the report folder claimed per configuration
  lfw_data.py              what every protocol starts from: aligned LFW, SFace and its precision, the pair files
  caches.py                SFace's outputs the protocols share (clean, degraded copies, subsets) as CachedFaces
  copy_store.py            degraded copies' SFace outputs, one entry per image, kind, severity and draw
  fold_heads.py            the Head value; one head per people.txt fold, trained through training/fit.py
  cross_quality_photos.py  cross-quality LFW's degraded photos (data_prep/make_cross_quality_lfw.py's half)
  protocols/               one module per protocol, its Config, check, run and summary, and their registry
"""
