"""moxing.file.copy_parallel(src_url, dst_url) on local paths, as the double of OBS copies (Python 3.7)."""
import os
import shutil


def copy_parallel(src_url, dst_url):
    """Copies a file, or a folder's contents into dst_url (merging with what is there, like OBS)."""
    if not os.path.isdir(src_url):
        shutil.copy(src_url, dst_url)
        return
    for root, _, files in os.walk(src_url):
        target = os.path.join(dst_url, os.path.relpath(root, src_url))
        if not os.path.isdir(target):
            os.makedirs(target)
        for name in files:
            shutil.copy2(os.path.join(root, name), os.path.join(target, name))
