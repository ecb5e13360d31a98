"""The experiments' protocols: one module each, its own typed Config (exactly the fields it reads, with their
defaults), check(config) -> [one line per problem], run(context, report_dir) -> its report, summary(report);
registry.py names them, and a new protocol is its module and its line there. No protocol imports another.

  registry.py         the one registry: a protocol's name -> its module
  fields.py           the fields several protocols have (folds, kinds, schemes, FARs, seeds) and their checks
  lfw_folds.py        LFW by identity: standard and cross-quality LFW, quality-aware heads beside the released
  held_out.py         degradations the heads never saw: leave-one-kind-out and unseen-severity schemes
  all_pairs.py        every pair within people.txt folds, the decisions per quality stratum, sigma^2 by EDC
  reference_model.py  one head calibrated on unseen people and exported
"""
