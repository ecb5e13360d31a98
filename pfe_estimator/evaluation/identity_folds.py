"""LFW cross-validated by identity: the people.txt folds a head trains on, and LFW's templates within them.

For each of the 10 folds, a head trains on the identities of the other nine people.txt folds and scores the
pairs of its own fold, so that every score comes from a head that never saw its people.
"""
import os

import numpy as np

from pfe_estimator import errors
from pfe_estimator.evaluation import plots
from pfe_estimator.data import pair_files
from pfe_estimator.evaluation import report

FOLDS = 10
TEMPLATE_FARS = (1e-3, 1e-2, 1e-1)
TEMPLATE_MIN_IMAGES = 4


def fold_training_labels(pairs, people_folds, manifest, share=1.0):
    """For each of the 10 folds, the labels of the identities a head may train on: the people of the other
    nine people.txt folds with at least 2 images (asserted disjoint from the fold's pairs.txt people); with
    `share` < 1 that share of them, drawn per fold, seeded by the fold (a smaller share keeps a subset of a
    larger one's identities)."""
    return [training_labels(people_folds, manifest, (k,), share, k) for k in range(FOLDS)]


def check_folds(pairs, people_folds, pairs_path, people_path):
    """Raises a one-line UserError unless pairs.txt and people.txt are LFW's View 2: ten folds each, every
    pair of fold k between people of people.txt's fold k (what keeps a fold's heads off its pairs' people)."""
    for path, count in ((pairs_path, len(np.unique(pairs.fold))), (people_path, len(people_folds))):
        if count != FOLDS:
            raise errors.UserError("%s: %d folds; the protocols cross-validate by LFW's %d people.txt folds (View 2)"
                                   % (path, count, FOLDS))
    fold_of = {person: k for k, people in enumerate(people_folds) for person in people}
    for k in range(FOLDS):
        for name in np.concatenate([pairs.first[pairs.fold == k], pairs.second[pairs.fold == k]]):
            person = pair_files.person_of(name)
            if fold_of.get(person) != k:
                where = "people.txt fold %d" % (fold_of[person] + 1) if person in fold_of else "no people.txt fold"
                raise errors.UserError("%s: %s of pairs.txt fold %d is in %s (%s); a fold's pairs must be of its own "
                                       "people" % (pairs_path, person, k + 1, where, people_path))


def training_labels(people_folds, manifest, excluded, share=1.0, seed=0):
    """The labels of the people of every people.txt fold but the `excluded` ones with at least 2 images; with
    `share` < 1 that share of them, a seeded draw (a smaller share keeps a subset of a larger one's)."""
    label_of = {i["name"]: i["label"] for i in manifest["identities"]}
    images_of = {i["name"]: i["images"] for i in manifest["identities"]}
    people = set().union(*[folk for j, folk in enumerate(people_folds) if j not in excluded])
    assert not people & set().union(*[people_folds[j] for j in excluded]), "people in two people.txt folds"
    labels = sorted(label_of[p] for p in people if images_of.get(p, 0) >= 2)
    drawn = np.random.RandomState(seed).permutation(len(labels))[:int(round(share * len(labels)))]
    return sorted(labels[i] for i in drawn)


def templates_section(names, clean_mu, fold_sigma_sq, people_folds, report_dir):
    """LFW templates: every identity with at least 4 images split into two templates (its images in name
    order, first half and second half); genuine pairs its two templates, impostor pairs one identity's
    first template against another's second within a people.txt fold. Each face's sigma^2 comes from the
    head of its identity's fold (never trained on it). Fusion: paper and released, against the mean of mu.

    Args:
      names: image names [N]; clean_mu: float [N, D].
      fold_sigma_sq: {fold: float [N, D]}, every image's sigma^2 by that fold's head.
    """
    by_person = {}
    for index, name in enumerate(names):
        by_person.setdefault(pair_files.person_of(name), []).append(index)
    sigma_sq = np.empty_like(clean_mu)
    faces, template_ids, pairs_a, pairs_b, labels = [], [], [], [], []
    for k, people in enumerate(people_folds):
        members = sorted(p for p in people if len(by_person.get(p, [])) >= TEMPLATE_MIN_IMAGES)
        for p in members:
            indices = sorted(by_person[p], key=lambda i: names[i])
            sigma_sq[indices] = fold_sigma_sq[k][indices]
            half = len(indices) // 2
            for part, chosen in (("a", indices[:half]), ("b", indices[half:])):
                faces += chosen
                template_ids += ["%s/%s" % (p, part)] * len(chosen)
        for p in members:
            for q in members:
                pairs_a.append("%s/a" % p)
                pairs_b.append("%s/b" % q)
                labels.append(p == q)
    faces = np.array(faces)
    section = {"identities": int(sum(labels)), "pairs": len(labels), "genuine": int(sum(labels))}
    for fusion in ("paper", "released"):
        part, _ = report.template_report(clean_mu[faces], sigma_sq[faces], np.array(template_ids),
                                         np.array(pairs_a), np.array(pairs_b), np.array(labels), fusion,
                                         TEMPLATE_FARS, report.REJECT_FRACTIONS)
        section[fusion] = part
    risk = section["paper"]["risk_controlled"]
    plots.curves(100 * np.array(risk["reject_fractions"]), {n: 100 * np.array(v) for n, v in risk["tar"].items()},
                 os.path.join(report_dir, "lfw_templates_risk_controlled.png"), "LFW templates (paper fusion)",
                 "most uncertain pairs rejected (%)", "TAR @ FAR=1e-2 (%)")
    return section
