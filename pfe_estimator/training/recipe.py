"""How a model trains, as one value: the PFE head's recipe and the backbone pretraining's.

`Recipe()` is the released `sphere64_casia` configuration (seasonSH/Probabilistic-Face-Embeddings,
config/sphere64_casia.py): batches of 64 identities x 4 images, 3000 steps, Momentum 0.9, learning rate
1e-3 dropping to 1e-4 at step 2000, weight decay 5e-4 on the head. `PretrainRecipe()` is the AM-softmax
schedule commonly used for SphereNet-64 on CASIA-WebFace. The model folder's record keeps the recipe
(`as_record`), so a folder says how its model was trained.
"""
import collections


class Recipe(collections.namedtuple("Recipe", [
        "num_classes_per_batch", "images_per_class", "max_steps", "learning_rates", "learning_rate_boundaries",
        "momentum", "weight_decay", "degrade_probability", "quality_ranking_weight", "quality_ranking_margin"])):
    """The uncertainty head's training.

    Fields:
      num_classes_per_batch, images_per_class: P and K of the P x K batches (P * K images per step).
      max_steps: the global step training stops at.
      learning_rates: piecewise-constant learning rates, a tuple of floats.
      learning_rate_boundaries: the steps where the rate changes (one fewer than learning_rates), or None
        for the reference schedule scaled to max_steps (`boundaries`).
      momentum: Momentum's momentum.
      weight_decay: L2 decay, weight_decay * sum(w^2) / 2, on the head's fully connected weights.
      degrade_probability: quality-aware training from images: the probability that an image is degraded.
      quality_ranking_weight, quality_ranking_margin: the weight of a ranking loss on degraded copies'
        uncertainty against their source's (losses.quality_ranking_loss; 0: none, the released loss) and its
        margin in log sigma^2 per severity step. Training from a feature cache with degraded copies only.
    """
    __slots__ = ()
    # The released schedule the boundaries default to: the drop at step 2000 of 3000.
    REFERENCE_BOUNDARIES = (2000,)
    REFERENCE_STEPS = 3000

    @property
    def batch_size(self):
        return self.num_classes_per_batch * self.images_per_class

    def boundaries(self):
        """The learning-rate boundaries this recipe trains with. [int]."""
        return boundaries(self)

    def as_record(self):
        """The recipe as JSON values, with its boundaries resolved."""
        return dict(self._asdict(), learning_rates=list(self.learning_rates),
                    learning_rate_boundaries=self.boundaries(), batch_size=self.batch_size)


Recipe.__new__.__defaults__ = (64, 4, 3000, (1e-3, 1e-4), None, 0.9, 5e-4, 0.0, 0.0, 0.1)


class PretrainRecipe(collections.namedtuple("PretrainRecipe", [
        "num_classes_per_batch", "images_per_class", "max_steps", "learning_rates", "learning_rate_boundaries",
        "momentum", "weight_decay", "degrade_probability", "am_scale", "am_margin"])):
    """The backbone's AM-softmax pretraining: the fields of Recipe (its weight decay on every weight of the
    network), and AM-softmax's scale s and margin m."""
    __slots__ = ()
    REFERENCE_BOUNDARIES = (16000, 24000)
    REFERENCE_STEPS = 28000
    batch_size = Recipe.batch_size
    boundaries = Recipe.boundaries
    as_record = Recipe.as_record


PretrainRecipe.__new__.__defaults__ = (64, 4, 28000, (0.1, 0.01, 0.001), None, 0.9, 5e-4, 0.0, 30.0, 0.35)


def boundaries(recipe):
    """recipe.learning_rate_boundaries when given, else its reference schedule scaled to recipe.max_steps (each
    boundary the whole step at or before its fraction: the drop at step 266 of 400, 2000 of 3000).

    With as many rates as the reference has, each reference boundary sits at the same fraction of the steps;
    with another number n, the n - 1 boundaries are evenly spaced up to the reference's last fraction (the
    released PFE: two thirds). [int].
    """
    if recipe.learning_rate_boundaries is not None:
        return [int(step) for step in recipe.learning_rate_boundaries]
    fractions = [step / float(recipe.REFERENCE_STEPS) for step in recipe.REFERENCE_BOUNDARIES]
    count = len(recipe.learning_rates) - 1
    if count != len(fractions):
        fractions = [fractions[-1] * i / count for i in range(1, count + 1)]
    return [int(fraction * recipe.max_steps + 1e-9) for fraction in fractions]  # floor: 266 of 400, as measured
