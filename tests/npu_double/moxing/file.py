"""moxing.file.copy_parallel(src_url, dst_url) on local paths (shutil), as the double of OBS copies."""
import os
import shutil


def copy_parallel(src_url, dst_url):
    if os.path.isdir(src_url):
        shutil.copytree(src_url, dst_url, dirs_exist_ok=True)
    else:
        shutil.copy(src_url, dst_url)
