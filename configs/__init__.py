"""Measured experiments, one file each: `python -m scripts.run_experiment configs/NAME.py --lfw_dir LFW --sface
SFACE.onnx --work_dir runs/lfw_sface`. base.py holds what they share; each file's docstring holds the command,
the run time and the figures it produced."""
