"""Outputs that are never lost or mixed: atomic files, ownership markers, model records, locks."""
