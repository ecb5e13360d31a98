"""Layer 6, running a trained model: predictions, exports, feature caches.

  predict.py          mu and sigma^2 through the Estimator, a head alone (HeadRunner) or an export
  embedding_sources.py  where eval's embeddings come from: a file, a cache, records or image files
  export.py           the export folder: SavedModel signatures, frozen graph, ONNX, pfe_export.json
  serving_graph.py    the export's bytes input: JPEG/PNG crops decoded in the graph
  cache_builder.py    running the frozen backbone once over records (and degraded copies) into a cache
  backbone_runtimes.py  the frozen backbone over many faces (its TensorFlow graph, chosen by measurement)
  precision_check.py  --backbone_precision=auto: where bf16 may run and agrees with fp32
"""
