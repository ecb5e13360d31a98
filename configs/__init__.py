"""Measured experiments, one file each: `python -m scripts.run_experiment configs/NAME.py --lfw_dir LFW --sface
SFACE.onnx`. base.py holds what they share and the legend of their figures; each file's docstring holds its
command, when it was measured, its run time and its figures."""
