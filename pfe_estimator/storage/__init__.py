"""Layer 1, files that are never lost or mixed. A run writes an output whole or not at all, never over
something that is not its own, and continues only the job that made it.

  atomic_files.py    writing under a temporary name, then renaming; strict JSON; a full disk in one line
  outputs.py         ownership markers (pfe_output.json) with fingerprints, the one rule that keeps a run's
                     outputs apart from its inputs, replacing a folder output whole
  model_dir_lock.py  the lock a writer holds on a folder (.pfe_lock: host, pid, mode)
  model_config.py    a model folder's record (pfe_config.json) and adopting it into later runs
  checkpoints.py     finding, checking and restoring checkpoints; a corrupt one moved aside
"""
