"""Test double of Huawei's npu_bridge: only the names pfe-estimator calls, running on the CPU."""
