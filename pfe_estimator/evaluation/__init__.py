"""Layer 7, numbers in, reports out (numpy and matplotlib, no TensorFlow graph).

  metrics.py         cosine and MLS scores, the 10-fold protocol, TAR at FAR, ROC, risk control, fusion
  reliability.py     P(same) by cross-fitted logistic regression, its reliability, thresholds at a FAR
  cells.py           ranking inside cells of pairs with subject-bootstrap intervals; normalised cosine
  identity_folds.py  LFW cross-validated by identity: each fold's training identities, LFW's templates
  cross_quality.py   cross-quality LFW scored: by kind, severity, rejection, Spearman, calibration
  held_out.py        the held-out degradation protocols scored: cells, targets, headroom
  all_pairs.py       every pair within a fold: TAR at low FMR, rates of a fixed decision, bootstrap, EDC
  all_pairs_report.py  the all-pairs protocol's report: FMR per quality stratum, targets, EDC, LFW accuracy
  report.py          eval's report.json sections and their summary
  plots.py           the PNG plots
"""
