"""LFW cross-validated by identity, on the real people.txt and pairs.txt: a fold's head never trains on a
person of its own pairs, only on people with 2 images or more; a share of them is a seeded draw per fold, a
smaller share a subset of a larger one's."""
import os

import numpy as np

from pfe_estimator.evaluation import identity_folds
from pfe_estimator.data import pair_files
from tests.conftest import shared_path


def test_every_fold_trains_on_other_peoples_identities_and_a_share_draws_nested_subsets_of_them():
    lfw = shared_path("data", "lfw")
    pairs = pair_files.read_lfw_pairs(os.path.join(lfw, "pairs.txt"))
    people_folds = pair_files.read_people_folds(os.path.join(lfw, "people.txt"))
    people = sorted(p for p in os.listdir(os.path.join(lfw, "images")) if os.path.isdir(os.path.join(lfw, "images", p)))
    manifest = {"identities": [{"name": p, "label": i, "images": len(os.listdir(os.path.join(lfw, "images", p)))}
                               for i, p in enumerate(people)]}
    images_of = {i["label"]: i["images"] for i in manifest["identities"]}
    everyone = identity_folds.fold_training_labels(pairs, people_folds, manifest)
    half = identity_folds.fold_training_labels(pairs, people_folds, manifest, 0.5)
    quarter = identity_folds.fold_training_labels(pairs, people_folds, manifest, 0.25)
    for k in range(10):
        test_people = {pair_files.person_of(n) for n in np.concatenate([pairs.first[pairs.fold == k],
                                                                       pairs.second[pairs.fold == k]])}
        assert not {people[label] for label in everyone[k]} & test_people
        assert len(everyone[k]) > 1000 and min(images_of[label] for label in everyone[k]) >= 2
        assert len(half[k]) == round(0.5 * len(everyone[k])) and set(half[k]) < set(everyone[k])
        assert len(quarter[k]) == round(0.25 * len(everyone[k])) and set(quarter[k]) < set(half[k])
    assert half == identity_folds.fold_training_labels(pairs, people_folds, manifest, 0.5)
    assert half[0] != half[1][:len(half[0])]  # drawn per fold, not one list cut
