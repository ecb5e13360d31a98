"""What the data layer says about damaged or contradictory inputs, without running a model."""
import json
import os
import struct
import zlib

import cv2
import numpy as np
import pytest

from pfe_estimator.data import record_writer
from pfe_estimator import errors
from pfe_estimator.faces import image_io
from pfe_estimator.data import manifest as manifests
from tests.conftest import lfw_subset_records


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    return lfw_subset_records(tmp_path_factory.mktemp("records"), "112x96")[0]


def edited(manifest, edit):
    manifest = json.loads(json.dumps(manifest))
    edit(manifest)
    return manifest


@pytest.mark.parametrize("edit, expected", [
    (lambda m: m.update(num_identities=50), "num_identities is 50, its identity list adds up to 10 and its shards"),
    (lambda m: m["identities"].pop(), "num_identities is 10, its identity list adds up to 9"),
    (lambda m: m.update(num_images=7), "num_images is 7"),
    (lambda m: m["identities"][0].update(label=42), "the identity labels are not 0..9"),
])
def test_a_manifest_that_contradicts_itself_is_named(records, edit, expected):
    manifest = manifests.read(records)
    manifests.check(records, manifest)
    with pytest.raises(errors.UserError, match="manifest.json: " + expected.replace("(", "\\(")):
        manifests.check(records, edited(manifest, edit))


def test_a_sidecar_that_lists_other_identities_is_named(records, tmp_path):
    manifest = manifests.read(records)
    first = manifest["shards"][0]
    manifest = edited(manifest, lambda m: None)
    for shard in manifest["shards"]:
        shard["file"] = os.path.join(os.path.relpath(records, str(tmp_path)), shard["file"])
    sidecar = os.path.join(records, first["file"]) + ".json"
    content = json.load(open(sidecar))
    try:
        json.dump(dict(content, identities=content["identities"][:-1]), open(sidecar, "w"))
        with pytest.raises(errors.UserError, match="lists %d identities" % (first["identities"] - 1)):
            manifests.check(str(tmp_path), manifest)
    finally:
        json.dump(content, open(sidecar, "w"))


def test_find_damage_names_nothing_in_intact_records(records):
    assert manifests.find_damage(records, manifests.read(records)) is None


@pytest.mark.parametrize("extension", [".png", ".jpg", ".bmp"])
def test_declared_size_reads_the_header_only(extension):
    ok, encoded = cv2.imencode(extension, np.zeros((37, 53, 3), np.uint8))
    assert ok and image_io.declared_size(encoded.tobytes()) == (37, 53)
    assert image_io.declared_size(encoded.tobytes()[:4]) is None


def test_a_gif_header_and_a_decompression_bomb():
    assert image_io.declared_size(b"GIF89a" + struct.pack("<HH", 53, 37) + b"\x00" * 8) == (37, 53)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 20000, 30000, 8, 2, 0, 0, 0))
    with pytest.raises(image_io.ImageError) as refused:
        image_io.decode_rgb(bomb, "bomb.png")
    assert refused.value.kind == "too_large"
    assert str(refused.value).startswith("bomb.png: declares 30000x20000 pixels in 33 bytes, beyond the 250-megapixel")


def test_tensorflow_messages_give_the_line_that_says_what_went_wrong():
    message = ("Graph execution error:\n\nDetected at node 'save_1/RestoreV2' defined at (most recent call last):\n"
               "  File \"main.py\", line 3, in <module>\nNode: 'save_1/RestoreV2'\nRead less bytes than requested\n"
               "\t [[{{node save_1/RestoreV2}}]]")
    assert errors.first_line(message) == "Read less bytes than requested"
    assert errors.first_line("corrupted record at 44386") == "corrupted record at 44386"
    assert errors.first_line("\n\n") == ""


@pytest.mark.parametrize("written, skipped, kinds, expected", [
    (90, 10, {"no_landmarks": 10}, None),
    (50, 50, {"landmarks_outside": 50}, None),
    (40, 60, {"landmarks_outside": 55, "too_small": 5}, "wrote 40 images, skipped 60 (landmarks_outside 55, too_small "
     "5), more than --max_skipped_fraction=0.5; were the landmarks given for another resolution?"),
    (0, 3, {"unreadable": 3}, "wrote 0 images, skipped 3 (unreadable 3)"),
])
def test_skipped_problem_past_the_threshold(written, skipped, kinds, expected):
    problem = record_writer.skipped_problem({"num_images": written, "num_skipped": skipped,
                                              "skipped_by_kind": kinds}, 0.5)
    assert problem == expected if expected is None or not expected.endswith("?") else problem.startswith(expected)
