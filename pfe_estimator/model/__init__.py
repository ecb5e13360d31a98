"""Layer 4, the networks as pure graph builders that read no flags and know no device.

  sphere_net.py         SphereNet-4..64 under the released checkpoints' variable names
  onnx_import.py        a frozen ONNX face model (SFace) as TensorFlow ops: its embedding and its features
  backbones.py          the frozen backbone as one value (Backbone): SphereNet or ONNX, its options
  compute_precision.py  bfloat16 convolutions and products for the frozen backbone
  layers.py             fully connected + batch norm layers under tf.contrib.slim's names
  uncertainty_head.py   the PFE head: log sigma^2 from the backbone's features
  verification.py       the verification score of two Gaussians, for numpy and the graph: features, P(same)
  calibration.py        a model's calibration, one value: fitted on pairs, kept, tied to its model, deciding
"""
