"""Omniglot-like characters: generated offline from Hershey strokes (cached), or the real Omniglot if you have it.

`load_characters(seed)` gives ~39 alphabets, ~1,200 characters, 20 drawers each, 28×28 (see glyphs.py);
`load_omniglot(data_dir)` reads a local copy of Omniglot (no download). Both return a `CharacterSet`,
and `split` cuts one as the MAML paper does: a fixed ~74% of the characters (1,200 of 1,623) for
meta-training, whatever their alphabet, the rest for testing — or, `by="alphabet"`, whole alphabets.
"""
from __future__ import annotations

import hashlib
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..validation import check_int, check_range
from . import glyphs

VERSION = 1
DRAWERS = 20
SIZE = glyphs.SIZE
PAPER_TRAIN_FRACTION = 1200 / 1623


@dataclass(frozen=True)
class CharacterSet:
    """images uint8 [C, D, 28, 28] (ink 255 on 0); alphabet[c] indexes `alphabets`; names[c] names character c."""
    images: np.ndarray
    alphabet: np.ndarray
    alphabets: tuple[str, ...]
    names: tuple[str, ...]
    source: str = "hershey"

    def __post_init__(self):
        if self.images.ndim != 4 or self.images.shape[2:] != (SIZE, SIZE) or self.images.dtype != np.uint8:
            raise ValueError(f"images must be uint8 of shape (C, D, {SIZE}, {SIZE}), "
                             f"got {self.images.dtype} {self.images.shape}")
        if not len(self.alphabet) == len(self.names) == len(self.images):
            raise ValueError("images, alphabet and names must have one entry per character")

    @property
    def n_characters(self) -> int:
        return self.images.shape[0]

    @property
    def n_drawers(self) -> int:
        return self.images.shape[1]

    def subset(self, characters) -> "CharacterSet":
        """The characters at the given indices (alphabet list kept whole)."""
        idx = np.asarray(characters, dtype=np.int64)
        return CharacterSet(self.images[idx], self.alphabet[idx], self.alphabets,
                            tuple(self.names[i] for i in idx), self.source)


# ------------------------------------------------------------------ the generated set
def default_cache_dir() -> Path:
    """$COURSE_LIB_CACHE/characters, else ~/.cache/course_lib/characters."""
    root = os.environ.get("COURSE_LIB_CACHE")
    return Path(root) / "characters" if root else Path.home() / ".cache" / "course_lib" / "characters"


def generate_characters(seed: int = 0, alphabets: int | None = None, characters_per_alphabet: int | None = None,
                        drawers: int = DRAWERS) -> CharacterSet:
    """Draw the set (no cache). `alphabets` / `characters_per_alphabet` take the first few, for quick tests;
    a character's drawings depend only on (seed, glyph), so a subset matches the full set."""
    check_int(seed, "seed", 0)
    check_int(drawers, "drawers", 1)
    table = glyphs.catalogue()
    if alphabets is not None:
        check_int(alphabets, "alphabets", 1, len(table))
        table = table[:alphabets]
    if characters_per_alphabet is not None:
        check_int(characters_per_alphabet, "characters_per_alphabet", 1)
    images, alphabet, names = [], [], []
    for a, (name, numbers, scale, width) in enumerate(table):
        for n in numbers[:characters_per_alphabet]:
            images.append(glyphs.render(n, scale, width, drawers, seed))
            alphabet.append(a), names.append(f"{name}/hershey-{n:05d}")
    return CharacterSet(np.stack(images), np.array(alphabet, dtype=np.int64),
                        tuple(t[0] for t in table), tuple(names), "hershey")


def load_characters(seed: int = 0, cache_dir: str | Path | None = None, alphabets: int | None = None,
                    characters_per_alphabet: int | None = None, drawers: int = DRAWERS) -> CharacterSet:
    """The generated set, from the cache if there (verified), else drawn (~1 min on 2 cores) and cached.

    Cache: `cache_dir` (default `default_cache_dir()`), one compressed .npz per version, seed and subset,
    written atomically; a file that fails its checks is reported and drawn again.
    """
    key = f"v{VERSION}-seed{seed}-a{alphabets or 'all'}-c{characters_per_alphabet or 'all'}-d{drawers}"
    path = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = path / f"characters-{key}.npz"
    if path.exists():
        try:
            return _read(path, key)
        except Exception as error:  # noqa: BLE001  any failure means: draw again
            warnings.warn(f"character cache {path} is corrupted ({error}); generating it again", stacklevel=2)
    data = generate_characters(seed, alphabets, characters_per_alphabet, drawers)
    _write(path, key, data)
    return data


def _digest(images: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(images).tobytes()).hexdigest()


def _write(path: Path, key: str, data: CharacterSet) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"key": key, "shape": list(data.images.shape), "sha256": _digest(data.images), "source": data.source}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        np.savez_compressed(f, images=data.images, alphabet=data.alphabet, alphabets=np.array(data.alphabets),
                            names=np.array(data.names), meta=np.array(json.dumps(meta)))
    os.replace(tmp, path)


def _read(path: Path, key: str) -> CharacterSet:
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        images = z["images"]
        if meta.get("key") != key:
            raise ValueError(f"it holds {meta.get('key')!r}, expected {key!r}")
        if images.dtype != np.uint8 or list(images.shape) != meta["shape"]:
            raise ValueError(f"images are {images.dtype} {images.shape}, expected uint8 {meta['shape']}")
        if _digest(images) != meta["sha256"]:
            raise ValueError("the images' checksum does not match")
        return CharacterSet(images, z["alphabet"].astype(np.int64), tuple(z["alphabets"].tolist()),
                            tuple(z["names"].tolist()), meta["source"])


# ------------------------------------------------------------------ the real Omniglot
OMNIGLOT_LAYOUT = "images_background/<Alphabet>/<characterNN>/<drawing>.png (and/or images_evaluation/...)"


def load_omniglot(data_dir: str | Path, parts=("images_background", "images_evaluation")) -> CharacterSet:
    """A local copy of Omniglot (Lake et al. 2015) as a CharacterSet: 28×28, ink bright. Never downloads.

    Reads every `parts` folder present under `data_dir`; alphabets and characters in sorted order.
    """
    from PIL import Image

    root = Path(data_dir)
    found = [root / p for p in parts if (root / p).is_dir()]
    if not found:
        raise FileNotFoundError(f"data_dir {str(root)!r} has no {' or '.join(parts)} folder; expected the "
                                f"Omniglot layout {OMNIGLOT_LAYOUT}")
    images, alphabet, alphabets, names = [], [], [], []
    for part in found:
        for alpha_dir in sorted(d for d in part.iterdir() if d.is_dir()):
            chars = sorted(d for d in alpha_dir.iterdir() if d.is_dir())
            if not chars:
                raise ValueError(f"data_dir: alphabet folder {alpha_dir} holds no character folders; expected "
                                 f"the Omniglot layout {OMNIGLOT_LAYOUT}")
            alphabets.append(alpha_dir.name)
            for char_dir in chars:
                files = sorted(char_dir.glob("*.png"))
                if not files:
                    raise ValueError(f"data_dir: character folder {char_dir} holds no .png drawings; expected "
                                     f"the Omniglot layout {OMNIGLOT_LAYOUT}")
                images.append([_omniglot_image(Image.open(f)) for f in files])
                alphabet.append(len(alphabets) - 1), names.append(f"{alpha_dir.name}/{char_dir.name}")
    counts = {len(x) for x in images}
    if len(counts) != 1:
        raise ValueError(f"data_dir: characters have different numbers of drawings {sorted(counts)} "
                         f"(Omniglot has 20 each) under {root}")
    return CharacterSet(np.array(images, dtype=np.uint8), np.array(alphabet, dtype=np.int64),
                        tuple(alphabets), tuple(names), "omniglot")


def _omniglot_image(image) -> np.ndarray:
    """Omniglot's 105×105 black-on-white drawing → 28×28 uint8, ink bright (as the generated set)."""
    from PIL import Image

    grey = image.convert("L").resize((SIZE, SIZE), Image.LANCZOS)
    return 255 - np.asarray(grey, dtype=np.uint8)


# ------------------------------------------------------------------ splits
def split(data: CharacterSet, by: str = "character", seed: int = 0,
          train_fraction: float = PAPER_TRAIN_FRACTION) -> tuple[CharacterSet, CharacterSet]:
    """(meta-train, meta-test) characters, fixed by `seed`.

    by="character": round(train_fraction · C) characters drawn at random, whatever their alphabet
    (the paper: 1,200 of Omniglot's 1,623). by="alphabet": whole alphabets, in a random order, until
    the training part reaches train_fraction of the characters (held-out alphabets: a harder test).
    """
    check_range(train_fraction, "train_fraction", 0.0, 1.0)
    check_int(seed, "seed", 0)
    rng = np.random.default_rng([seed, 1623])
    c = data.n_characters
    if by == "character":
        order = rng.permutation(c)
        n_train = int(round(train_fraction * c))
        train = np.sort(order[:n_train])
    elif by == "alphabet":
        present = np.unique(data.alphabet)
        chosen, total = [], 0
        for a in rng.permutation(present)[:len(present) - 1]:          # at least one alphabet held out
            if total >= train_fraction * c:
                break
            chosen.append(a)
            total += int((data.alphabet == a).sum())
        train = np.flatnonzero(np.isin(data.alphabet, chosen))
    else:
        raise ValueError(f"by must be 'character' or 'alphabet', got {by!r}")
    test = np.setdiff1d(np.arange(c), train)
    if len(train) == 0 or len(test) == 0:
        raise ValueError(f"train_fraction={train_fraction} leaves an empty part for {c} characters (by={by!r})")
    return data.subset(train), data.subset(test)
