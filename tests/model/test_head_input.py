"""--head_input=pooled: the head reads the backbone's last conv map averaged over its positions."""
import numpy as np
import tensorflow.compat.v1 as tf

from pfe_estimator.model import sphere_net


def test_sphere_net_pools_its_last_map_over_positions_and_keeps_mu():
    images = np.random.RandomState(0).uniform(-1, 1, (3, 56, 48, 3)).astype(np.float32)
    with tf.Graph().as_default(), tf.Session() as session:
        placeholder = tf.placeholder(tf.float32, [None, 56, 48, 3])
        mu, flattened = sphere_net.sphere_net(placeholder, "sphere4", 16, training=False)
        mu_pooled, pooled = sphere_net.sphere_net(placeholder, "sphere4", 16, training=False, reuse=True,
                                                  head_input="pooled")
        session.run(tf.global_variables_initializer())
        values = session.run([mu, flattened, mu_pooled, pooled], {placeholder: images})
    height, width = sphere_net.conv_output_size((56, 48))
    assert values[1].shape == (3, height * width * 512) and values[3].shape == (3, 512)
    np.testing.assert_array_equal(values[0], values[2])
    np.testing.assert_allclose(values[3], values[1].reshape(3, height, width, 512).mean(axis=(1, 2)), rtol=1e-5,
                               atol=1e-6)
