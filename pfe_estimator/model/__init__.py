"""The networks: SphereNet backbones, ONNX import, the uncertainty head, the PFE and pretraining model_fns."""
