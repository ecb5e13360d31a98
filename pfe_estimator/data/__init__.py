"""Layer 3, the formats on disk and the input pipelines that read them.

  tfrecord_schema.py  one identity record (its crops, or a feature cache's backbone outputs), written and parsed
  manifest.py         the manifest beside a folder of records: read, check, shards, damage, write
  record_writer.py    photos -> aligned crops -> identity records (make_tfrecords' library half)
  pk_sampling.py      P x K input_fns with static shapes (identity records, synthetic batches)
  feature_cache.py    reading a feature cache: its input_fn, its arrays, subsets and pooled features
  embedding_files.py  the .npz of names, mu, sigma_sq that predict and eval write and read
  pair_files.py       the files that name pairs and folds: LFW's pairs.txt and people.txt, pairs and template CSVs
"""
