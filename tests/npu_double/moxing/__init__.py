"""Test double of ModelArts' moxing: only moxing.file.copy_parallel, copying local folders."""
from moxing import file  # noqa: F401
