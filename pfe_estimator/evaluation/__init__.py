"""Metrics, the LFW and template protocols, reports and plots."""
