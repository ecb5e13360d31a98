"""pfe-estimator: Probabilistic Face Embeddings on a frozen face-recognition network, as TensorFlow Estimators.

The package is ten layers, in the order data flows; a module imports only its own layer and the ones before
it, never main.py, data_prep/, scripts/, bench/ or tests/ (tests/test_layers.py, and each layer's ruff.toml):

  errors.py     0  UserError, the one-line error of every entry point, and how they end
  storage/      1  files never lost or mixed: atomic writes, output claims, model records, locks, checkpoints
  faces/        2  pixels: image decoding, 5-point alignment, degradations and their kinds, network input
  data/         3  formats on disk and input pipelines: TFRecords, feature caches, manifests, pair files
  model/        4  the networks (SphereNet, imported ONNX backbones), the PFE head, the calibration value
  training/     5  losses, the recipe, devices (CPU, GPU, Ascend NPU), model_fns, fitting a model folder
  inference/    6  running a trained model: predictions, backbone runtimes, feature caches, exports
  evaluation/   7  numbers in, reports out: metrics, LFW protocols, reliability, all-pairs reports, plots
  experiments/  8  measured runs from configs/: protocols, shared caches, fold heads, the work folder
  modes/        9  main.py's command line: flags, the one RunConfig, one module per --mode
"""
