"""N-way K-shot episodes (course_lib/tasks/fewshot.py) on small synthetic character arrays."""
import numpy as np
import pytest
import torch

from course_lib.tasks.characters import CharacterSet
from course_lib.tasks.fewshot import Episodes, FewShotDistribution


def _images(c=6, d=20):
    """C characters × D drawers; image = a unique asymmetric pattern per character, the drawer in one pixel."""
    rng = np.random.default_rng(0)
    base = (rng.random((c, 28, 28)) < 0.3).astype(np.uint8) * 200
    images = np.repeat(base[:, None], d, axis=1)
    images[:, :, 0, 0] = np.arange(d, dtype=np.uint8)[None, :]        # marks the drawer
    return images


def test_shapes_types_and_range():
    dist = FewShotDistribution(_images(), n_way=5, k_shot=2, k_query=3)
    b = dist.sample_batch(4, np.random.default_rng(0))
    assert isinstance(b, Episodes) and b.n_tasks == 4
    assert b.x_support.shape == (4, 10, 1, 28, 28) and b.x_query.shape == (4, 15, 1, 28, 28)
    assert b.y_support.shape == (4, 10) and b.y_query.shape == (4, 15)
    assert b.x_support.dtype == torch.float32 and b.y_support.dtype == torch.int64
    assert 0.0 <= b.x_support.min() and b.x_support.max() <= 1.0
    one = dist.sample_episode(np.random.default_rng(0))
    assert one.x_support.shape == (10, 1, 28, 28) and one.y_query.shape == (15,)
    assert b.classes.shape == (4, 5, 2)


def test_labels_balanced_and_shuffled():
    dist = FewShotDistribution(_images(), n_way=5, k_shot=3, k_query=2)
    b = dist.sample_batch(50, np.random.default_rng(1))
    for y, k in ((b.y_support, 3), (b.y_query, 2)):
        counts = torch.stack([torch.bincount(row, minlength=5) for row in y])
        assert (counts == k).all()
    assert len({tuple(row.tolist()) for row in b.y_support}) > 1        # order differs between episodes
    first_class = {tuple(c) for c in b.classes[:, 0]}
    assert len(first_class) > 5                                           # label 0 is not always one class


def test_images_match_their_class_and_drawers_are_distinct():
    images = _images()
    dist = FewShotDistribution(images, n_way=4, k_shot=5, k_query=5)
    b = dist.sample_batch(10, np.random.default_rng(2))
    for t in range(10):
        for x, y in ((b.x_support[t], b.y_support[t]), (b.x_query[t], b.y_query[t])):
            for image, label in zip(x[:, 0].numpy(), y.tolist()):
                char, turn = b.classes[t, label]
                want = np.rot90(images[char, 0].astype(np.float32) / 255, turn)
                mask = np.rot90(np.ones((28, 28), bool), turn).copy()
                mask[tuple(np.argwhere(np.rot90(np.pad(np.ones((1, 1)), ((0, 27), (0, 27))), turn))[0])] = False
                np.testing.assert_allclose(image[mask], want[mask])
        # drawers (marked in the turned corner pixel) differ between support and query of a class
        for label in range(4):
            char, turn = b.classes[t, label]
            corner = tuple(np.argwhere(np.rot90(np.pad(np.ones((1, 1)), ((0, 27), (0, 27))), turn))[0])
            marks = [round(float(img[0][corner]) * 255) for img, lab in
                     zip(torch.cat([b.x_support[t], b.x_query[t]]), torch.cat([b.y_support[t], b.y_query[t]]))
                     if lab == label]
            assert len(set(marks)) == 10


def test_rotation_classes():
    dist = FewShotDistribution(_images(c=3), n_way=12, k_shot=1, k_query=1)
    assert dist.n_classes == 12
    b = dist.sample_batch(3, np.random.default_rng(0))
    for classes in b.classes:                                              # all 3 chars × 4 turns, once each
        assert sorted(map(tuple, classes.tolist())) == [(c, r) for c in range(3) for r in range(4)]
    plain = FewShotDistribution(_images(c=3), n_way=3, rotations=False)
    assert plain.n_classes == 3 and (plain.sample_tasks(5, 0)[..., 1] == 0).all()
    with pytest.raises(ValueError, match="n_way"):
        FewShotDistribution(_images(c=3), n_way=4, rotations=False)


def test_same_seed_same_episodes():
    dist = FewShotDistribution(_images(), n_way=5, k_shot=1, k_query=2)
    for make in (lambda: np.random.default_rng(7), lambda: torch.Generator().manual_seed(7), lambda: 7):
        a, b = dist.sample_batch(3, make()), dist.sample_batch(3, make())
        for name in ("x_support", "y_support", "x_query", "y_query"):
            assert torch.equal(getattr(a, name), getattr(b, name))
    a, b = dist.sample_batch(3, 7), dist.sample_batch(3, 8)
    assert not torch.equal(a.x_support, b.x_support) or not np.array_equal(a.classes, b.classes)


def test_character_set_input():
    images = _images(c=4, d=5)
    data = CharacterSet(images, np.zeros(4, np.int64), ("a",), tuple("wxyz"))
    b = FewShotDistribution(data, n_way=3, k_shot=2, k_query=3).sample_batch(2, 0)
    assert b.x_support.shape == (2, 6, 1, 28, 28)


@pytest.mark.parametrize("kwargs, name", [
    (dict(n_way=1), "n_way"), (dict(n_way=25), "n_way"), (dict(n_way=2.0), "n_way"),
    (dict(k_shot=0), "k_shot"), (dict(k_query=0), "k_query"),
    (dict(k_shot=15, k_query=6), "k_shot \\+ k_query"), (dict(rotations="yes"), "rotations"),
])
def test_bad_arguments_name_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        FewShotDistribution(_images(), **kwargs)


def test_bad_sampling_arguments():
    dist = FewShotDistribution(_images())
    with pytest.raises(ValueError, match="rng"):
        dist.sample_batch(2, "seed")
    with pytest.raises(ValueError, match="n must"):
        dist.sample_batch(0, 0)
    with pytest.raises(ValueError, match="data"):
        FewShotDistribution(np.zeros((3, 28, 28), np.uint8))
