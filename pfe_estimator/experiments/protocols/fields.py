"""The fields several protocols have, and what each may hold.

  folds            the people.txt folds run (0-based)
  schemes          of evaluation.held_out.SCHEMES: leave_one_kind_out, unseen_severities
  held_out_kinds   the kinds leave_one_kind_out holds out in turn
  test_seed        the seed of the degradation draws of the pairs scored and calibrated on (not the heads')
  fars             the FARs calibrations keep thresholds at and decisions are reported at
"""
from pfe_estimator.evaluation import held_out
from pfe_estimator.faces import kinds
from pfe_estimator.model import calibration

FOLDS = tuple(range(10))
SCHEMES = tuple(held_out.SCHEMES)
FARS = calibration.FARS


def problems(config):
    """[one line per value no run can use] of whichever of these fields `config` has."""
    found = []
    fields = config._fields
    if "folds" in fields and not (config.folds and len(set(config.folds)) == len(config.folds) and
                                  set(config.folds) <= set(FOLDS)):
        found.append("folds=%s: expected distinct people.txt folds among 0..9" % _shown(config.folds))
    if "schemes" in fields and not (config.schemes and set(config.schemes) <= set(SCHEMES)):
        found.append("schemes=%s: expected some of %s" % (_shown(config.schemes), ",".join(SCHEMES)))
    if "held_out_kinds" in fields:
        try:
            kinds.check_kinds(config.held_out_kinds, "held_out_kinds")
        except ValueError as error:
            found.append(str(error))
    if "fars" in fields and not (config.fars and all(0 < far < 1 for far in config.fars)):
        found.append("fars=%s: expected false accept rates in (0, 1), e.g. 0.001,0.01" % _shown(config.fars))
    if "test_seed" in fields and config.test_seed < 0:
        found.append("test_seed=%d: expected a number >= 0" % config.test_seed)
    return found


def unseen_severity_problems(head, schemes):
    """unseen_severities tests on severities its heads must never train on."""
    tested = set(head.train_severities or ()) & set(held_out.SCHEMES["unseen_severities"]["test"])
    if "unseen_severities" in schemes and tested:
        return ["head.train_severities=%s holds %s, which unseen_severities tests on: train it on 1-2 only"
                % (_shown(head.train_severities), ",".join(map(str, sorted(tested))))]
    return []


def _shown(values):
    return ",".join(map(str, values)) if values is not None else "none"
