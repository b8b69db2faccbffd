"""The generated character set (course_lib/tasks/characters.py, glyphs.py) and the real-Omniglot loader."""
import numpy as np
import pytest

pytest.importorskip("pyhershey")
from PIL import Image  # noqa: E402

from course_lib.tasks import characters as ch  # noqa: E402
from course_lib.tasks import glyphs  # noqa: E402

SMALL = dict(alphabets=4, characters_per_alphabet=6)


@pytest.fixture(scope="module")
def small():
    return ch.generate_characters(seed=0, **SMALL)


def test_catalogue_is_omniglot_scale():
    table = glyphs.catalogue()
    n_chars = sum(len(numbers) for _, numbers, _, _ in table)
    assert len(table) >= 35 and n_chars >= 1100
    numbers = [n for _, ns, _, _ in table for n in ns]
    assert len(numbers) == len(set(numbers))                     # no glyph in two alphabets


def test_shapes_range_and_determinism(small):
    assert small.images.shape == (24, ch.DRAWERS, 28, 28) and small.images.dtype == np.uint8
    assert small.images.max() == 255 and small.images.min() == 0
    assert len(small.alphabets) == 4 and sorted(set(small.alphabet)) == [0, 1, 2, 3]
    again = ch.generate_characters(seed=0, **SMALL)
    np.testing.assert_array_equal(again.images, small.images)
    assert again.names == small.names
    other = ch.generate_characters(seed=1, **SMALL)
    assert not np.array_equal(other.images, small.images)


def test_subset_matches_full_drawings(small):
    one = ch.generate_characters(seed=0, alphabets=1, characters_per_alphabet=2)
    np.testing.assert_array_equal(one.images, small.images[:2])


def test_drawers_distinct_and_closer_within_character(small):
    x = small.images.astype(np.float64) / 255
    flat = x.reshape(len(x), x.shape[1], -1)
    for c in flat:                                             # 20 different drawings, none blank
        assert len({d.tobytes() for d in c}) == ch.DRAWERS
        assert (c.sum(1) > 10).all()
    mean = flat.mean(1)
    within = np.mean([np.abs(flat[c] - mean[c]).mean() for c in range(len(flat))])
    between = np.mean([np.abs(flat[c] - mean[(c + 1) % len(flat)]).mean() for c in range(len(flat))])
    assert within < 0.8 * between


def test_split_by_character(small):
    train, test = ch.split(small, seed=0)
    assert train.n_characters == round(24 * 1200 / 1623) and train.n_characters + test.n_characters == 24
    assert not set(train.names) & set(test.names)
    again, _ = ch.split(small, seed=0)
    assert again.names == train.names
    assert ch.split(small, seed=3)[0].names != train.names


def test_split_by_alphabet(small):
    train, test = ch.split(small, by="alphabet", seed=0)
    assert not set(train.alphabet) & set(test.alphabet)
    assert train.n_characters + test.n_characters == 24 and train.n_characters >= 0.74 * 24
    with pytest.raises(ValueError, match="by"):
        ch.split(small, by="font")
    with pytest.raises(ValueError, match="train_fraction"):
        ch.split(small, train_fraction=1.5)


def test_cache_roundtrip_and_corruption(tmp_path):
    args = dict(seed=0, cache_dir=tmp_path, alphabets=1, characters_per_alphabet=2, drawers=3)
    first = ch.load_characters(**args)
    (path,) = tmp_path.glob("characters-*.npz")
    assert not list(tmp_path.glob(".*tmp"))                      # written atomically, no leftovers
    np.testing.assert_array_equal(ch.load_characters(**args).images, first.images)
    path.write_bytes(path.read_bytes()[:200])                    # truncated
    with pytest.warns(UserWarning, match="corrupted"):
        again = ch.load_characters(**args)
    np.testing.assert_array_equal(again.images, first.images)
    ch._write(path, "v0-other", first)                           # wrong key / version
    with pytest.warns(UserWarning, match="corrupted"):
        ch.load_characters(**args)


def test_cache_checksum_mismatch(tmp_path):
    args = dict(seed=0, cache_dir=tmp_path, alphabets=1, characters_per_alphabet=2, drawers=3)
    data = ch.load_characters(**args)
    (path,) = tmp_path.glob("characters-*.npz")
    tampered = ch.CharacterSet(255 - data.images, data.alphabet, data.alphabets, data.names)
    with np.load(path) as z:
        meta = str(z["meta"])
    np.savez_compressed(path, images=tampered.images, alphabet=data.alphabet, alphabets=np.array(data.alphabets),
                        names=np.array(data.names), meta=np.array(meta))
    with pytest.warns(UserWarning, match="checksum"):
        again = ch.load_characters(**args)
    np.testing.assert_array_equal(again.images, data.images)


def test_cache_dir_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_LIB_CACHE", str(tmp_path))
    assert ch.default_cache_dir() == tmp_path / "characters"


def _omniglot_tree(root, drawers=3):
    for part, alphabets in (("images_background", ("Alpha", "Beta")), ("images_evaluation", ("Gamma",))):
        for a in alphabets:
            for c in range(2):
                folder = root / part / a / f"character{c + 1:02d}"
                folder.mkdir(parents=True)
                for d in range(drawers):
                    image = np.full((105, 105), 255, np.uint8)             # white paper
                    image[20 + 10 * c:40 + 10 * c, 30 + 5 * d:60] = 0      # a black stroke
                    Image.fromarray(image).convert("1").save(folder / f"{c:04d}_{d + 1:02d}.png")


def test_omniglot_loader(tmp_path):
    _omniglot_tree(tmp_path)
    data = ch.load_omniglot(tmp_path)
    assert data.images.shape == (6, 3, 28, 28) and data.images.dtype == np.uint8 and data.source == "omniglot"
    assert data.alphabets == ("Alpha", "Beta", "Gamma") and list(data.alphabet) == [0, 0, 1, 1, 2, 2]
    assert data.names[0] == "Alpha/character01"
    assert data.images[0, 0, 0, 0] == 0 and data.images.max() > 200       # ink bright, paper dark
    train, test = ch.split(data, by="alphabet")
    assert train.n_characters + test.n_characters == 6


def test_omniglot_loader_bad_layout(tmp_path):
    with pytest.raises(FileNotFoundError, match="images_background"):
        ch.load_omniglot(tmp_path)
    (tmp_path / "images_background" / "Alpha" / "character01").mkdir(parents=True)
    with pytest.raises(ValueError, match="character01.*png"):
        ch.load_omniglot(tmp_path)


def test_bad_arguments():
    with pytest.raises(ValueError, match="seed"):
        ch.generate_characters(seed=-1, alphabets=1)
    with pytest.raises(ValueError, match="alphabets"):
        ch.generate_characters(alphabets=0)
    with pytest.raises(ValueError, match="images"):
        ch.CharacterSet(np.zeros((2, 3, 28, 28), np.float32), np.zeros(2, int), ("a",), ("x", "y"))
