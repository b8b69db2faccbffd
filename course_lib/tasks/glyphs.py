"""Hershey stroke glyphs drawn by many simulated hands: the raw material of the character data set.

The Hershey fonts (1967) describe ~2,300 glyphs as pen strokes: Latin, Greek, Cyrillic, gothic and script
letters, symbols, and 758 Japanese kana and kanji. PyPI's `pyhershey` ships them all as one data file
(`database.toml.xz`); we read that file with the standard library and import nothing of the package.

A "drawer" is a random, smooth deformation of the pen path — an affine change of the whole character
(rotation, shear, scale, shift), a low-frequency elastic warp, a small shift/turn/scale of each stroke —
and a pen width. Strokes are splatted (bilinear, mass per unit length) onto a 28×28 grid, blurred by a
per-drawer Gaussian and saturated, all vectorised over the drawers of a glyph.
"""
from __future__ import annotations

import importlib.util
import json
import lzma
import re
from functools import lru_cache
from pathlib import Path

import numpy as np

SIZE = 28               # image side, pixels
GLYPH_PX = 19.0         # median character extent of an alphabet, pixels (Omniglot's fill its 28×28 alike)
MAX_PX = 23.0           # no character larger than this
SPACING = 0.3           # pen-path sampling step, pixels

_R = lambda a, b: tuple(range(a, b))  # noqa: E731  inclusive-exclusive ranges of Hershey numbers
_SYMBOLS_MAP = _R(735, 800) + _R(840, 875)
# (alphabet name, Hershey glyph numbers). Order is priority when near-duplicates are dropped.
_FAMILIES: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("Latin capitals", _R(501, 527)), ("Latin small", _R(601, 627)),
    ("Greek capitals", _R(527, 551)), ("Greek small", _R(627, 651)),
    ("Script capitals", _R(551, 577)), ("Script small", _R(651, 677)),
    ("Cyrillic capitals", _R(2801, 2833)), ("Cyrillic small", _R(2901, 2933)),
    ("Gothic English capitals", _R(3501, 3527)), ("Gothic English small", _R(3601, 3627)),
    ("Gothic German capitals", _R(3301, 3327)), ("Gothic German small", _R(3401, 3427)),
    ("Gothic Italian capitals", _R(3801, 3827)), ("Gothic Italian small", _R(3901, 3927)),
    ("Italic capitals", _R(2051, 2077)), ("Italic small", _R(2151, 2177)),
    ("Script complex capitals", _R(2551, 2577)), ("Script complex small", _R(2651, 2677)),
    ("Greek complex small", _R(2127, 2151)),
    ("Digits", _R(200, 210) + _R(700, 710) + _R(2750, 2760) + _R(3700, 3710)),
    ("Map symbols", _SYMBOLS_MAP), ("Shapes", _R(800, 840)),
    ("Mathematics", _R(1210, 1300) + _R(1401, 1413)), ("Mathematics II", _R(2210, 2300)),
    ("Astrology and music", _R(2301, 2413)), ("Ligatures and marks", _R(1177, 1210) + _R(2177, 2210)),
    ("Hiragana", _R(10000, 10080)), ("Katakana", _R(10100, 10180)),
)
KANJI = _R(4000, 10000)
KANJI_PER_ALPHABET = 40


@lru_cache(maxsize=1)
def hershey_strokes() -> dict[int, tuple[np.ndarray, ...]]:
    """Every Hershey glyph as its strokes: {number: (array [n_i, 2] of pen positions, y up), ...}."""
    spec = importlib.util.find_spec("pyhershey")          # locate the data file; the package is not imported
    path = Path(spec.submodule_search_locations[0]) / "database.toml.xz" if spec else None
    if path is None or not path.is_file():
        raise ModuleNotFoundError("the character data set needs the Hershey stroke data of the PyPI package "
                                  "pyhershey: pip install pyhershey==0.2.0")
    text = lzma.decompress(path.read_bytes()).decode("utf-8")
    # Each glyph is "[glyphs.N]" then "segments = [ [ [x, y,], ...],]" (TOML with trailing commas).
    found = re.findall(r"^\[glyphs\.(\d+)\]\s*\nsegments = (.*)$", text, flags=re.M)
    if len(found) < 2000:
        raise ValueError(f"{path}: expected ~2,300 Hershey glyphs, found {len(found)}")
    out = {}
    for number, segments in found:
        strokes = json.loads(segments.replace(",]", "]"))
        if strokes:
            out[int(number)] = tuple(np.asarray(s, dtype=np.float64) for s in strokes)
    return out


def families() -> list[tuple[str, list[int]]]:
    """Candidate alphabets (name, Hershey numbers present), kanji cut into blocks of 40 in Hershey order."""
    have = hershey_strokes()
    out = [(name, [n for n in numbers if n in have]) for name, numbers in _FAMILIES]
    kanji = [n for n in KANJI if n in have]
    for i in range(0, len(kanji), KANJI_PER_ALPHABET):
        out.append((f"Kanji {i // KANJI_PER_ALPHABET + 1}", kanji[i:i + KANJI_PER_ALPHABET]))
    return out


def pen_path(strokes, scale: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Strokes resampled every SPACING px: points [P, 2] (px, centred), mass [P] (px of ink), stroke id [P]."""
    all_pts = np.concatenate(strokes)
    centre = (all_pts.min(0) + all_pts.max(0)) / 2
    extent = (all_pts.max(0) - all_pts.min(0)).max()
    scale = min(scale, MAX_PX / max(extent, 1e-9))
    points, mass, ids = [], [], []
    for i, stroke in enumerate(strokes):
        p = (stroke - centre) * scale * np.array([1.0, -1.0])      # y down, like image rows
        if len(p) == 1 or np.allclose(p, p[0]):                      # a dot
            points.append(p[:1]), mass.append(np.array([1.5])), ids.append(np.array([i]))
            continue
        seg = np.diff(p, axis=0)
        length = np.hypot(*seg.T)
        n = np.maximum(1, np.ceil(length / SPACING)).astype(int)
        t = np.concatenate([np.arange(k) / k for k in n])
        start = np.repeat(np.arange(len(seg)), n)
        pts = np.concatenate([p[start] + t[:, None] * seg[start], p[-1:]])
        m = np.concatenate([np.repeat(length / n, n), [0.0]])
        points.append(pts), mass.append(m), ids.append(np.full(len(pts), i))
    return np.concatenate(points), np.concatenate(mass), np.concatenate(ids)


def draw(points: np.ndarray, mass: np.ndarray, ids: np.ndarray, drawers: int, rng: np.random.Generator | None,
         width: float = 1.0) -> np.ndarray:
    """`drawers` images [D, 28, 28] (float in [0, 1]) of one pen path; rng=None draws it cleanly D times."""
    d, n_strokes = drawers, int(ids.max()) + 1
    pts = np.broadcast_to(points, (d,) + points.shape).copy()
    if rng is None:
        sigma = np.full(d, 0.55 * width)
    else:
        pts = _jitter(pts, ids, n_strokes, rng)
        sigma = 0.55 * width * np.exp(rng.normal(0.0, 0.2, d))
    return _ink(_splat(pts + SIZE / 2 - 0.5, mass), sigma)


def _jitter(pts: np.ndarray, ids: np.ndarray, n_strokes: int, rng: np.random.Generator) -> np.ndarray:
    d = len(pts)
    # each stroke: a small turn, scale and shift about its own centre (a hand places strokes loosely)
    centres = np.stack([np.bincount(ids, p, n_strokes) for p in pts[0].T], -1)
    centres = centres / np.bincount(ids, minlength=n_strokes)[:, None]
    turn = rng.normal(0.0, 0.05, (d, n_strokes))
    stretch = np.exp(rng.normal(0.0, 0.06, (d, n_strokes)))
    c, s = np.cos(turn) * stretch, np.sin(turn) * stretch
    rel = pts - centres[ids]
    rot = np.stack([c[:, ids] * rel[..., 0] - s[:, ids] * rel[..., 1],
                    s[:, ids] * rel[..., 0] + c[:, ids] * rel[..., 1]], -1)
    pts = centres[ids] + rot + rng.normal(0.0, 0.35, (d, n_strokes, 2))[:, ids]
    # a smooth elastic warp: three random plane waves, period 16–32 px, amplitude ~0.5 px each
    direction = rng.uniform(0, 2 * np.pi, (d, 3))
    k = np.stack([np.cos(direction), np.sin(direction)], -1) * (2 * np.pi / rng.uniform(16, 32, (d, 3, 1)))
    phase = rng.uniform(0, 2 * np.pi, (d, 3, 1))
    amp = rng.normal(0.0, 0.5, (d, 3, 2))
    waves = np.sin(np.einsum("dpx,dwx->dwp", pts, k) + phase)          # [D, 3 waves, P]
    pts = pts + np.einsum("dwp,dwx->dpx", waves, amp)
    # the whole character: rotation, shear, anisotropic scale, shift
    angle, shear = rng.normal(0.0, 0.12, d), rng.normal(0.0, 0.12, d)
    scale = np.exp(rng.normal(0.0, 0.07, (d, 1)) + rng.normal(0.0, 0.06, (d, 2)))
    a = np.empty((d, 2, 2))
    ca, sa = np.cos(angle), np.sin(angle)
    a[:, 0, 0], a[:, 0, 1] = ca * scale[:, 0], (ca * shear - sa) * scale[:, 1]
    a[:, 1, 0], a[:, 1, 1] = sa * scale[:, 0], (sa * shear + ca) * scale[:, 1]
    return np.einsum("dij,dpj->dpi", a, pts) + rng.normal(0.0, 1.0, (d, 1, 2))


def _splat(pts: np.ndarray, mass: np.ndarray) -> np.ndarray:
    """Bilinear splat of points [D, P, 2] (x, y px) with mass [P] → ink density [D, 28, 28]."""
    d = len(pts)
    x0 = np.floor(pts).astype(np.int64)
    f = pts - x0
    out = np.zeros(d * SIZE * SIZE)
    image = np.arange(d)[:, None] * SIZE * SIZE
    for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1)):
        x, y = x0[..., 0] + dx, x0[..., 1] + dy
        w = (f[..., 0] if dx else 1 - f[..., 0]) * (f[..., 1] if dy else 1 - f[..., 1]) * mass
        ok = (x >= 0) & (x < SIZE) & (y >= 0) & (y < SIZE)
        out += np.bincount((image + y * SIZE + x)[ok], w[ok], d * SIZE * SIZE)
    return out.reshape(d, SIZE, SIZE)


def _ink(density: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Blur each image by its pen (Gaussian σ px), scale so a line's core saturates, clip to [0, 1]."""
    r = np.arange(SIZE, dtype=np.float64)
    g = np.exp(-(r[None, :, None] - r[None, None, :]) ** 2 / (2 * sigma[:, None, None] ** 2))
    g /= np.sqrt(2 * np.pi) * sigma[:, None, None]
    blurred = g @ density @ g.transpose(0, 2, 1)
    return np.clip(blurred * (1.4 * np.sqrt(2 * np.pi) * sigma)[:, None, None], 0.0, 1.0)


def glyph_scale(numbers: list[int], target: float = GLYPH_PX) -> float:
    """Pixels per Hershey unit for an alphabet: its median character extent becomes `target` px."""
    strokes = hershey_strokes()
    extents = [np.ptp(np.concatenate(strokes[n]), axis=0).max() for n in numbers]
    return target / max(float(np.median(extents)), 1e-9)


@lru_cache(maxsize=1)
def catalogue(min_ink: float = 14.0, max_fill: float = 0.55, max_similarity: float = 0.9,
              min_size: int = 10) -> tuple[tuple[str, tuple[int, ...], float, float], ...]:
    """The alphabets: (name, Hershey numbers, px per unit, pen width), seed-independent.

    Kanji are drawn larger (21 px) and with a finer pen (0.8), so that their strokes stay apart.

    Drops blank-ish glyphs (less than `min_ink` px of ink: dots, commas), glyphs that fill more than
    `max_fill` of their box (dense kanji blur into a blot at 28×28), near-duplicates (cosine similarity of
    blurred clean drawings above `max_similarity` to a glyph kept earlier: the same letter in another
    font, c/C), and alphabets left with fewer than `min_size` characters.
    """
    strokes = hershey_strokes()
    candidates = []                                   # (alphabet, number, scale, width, passes the ink tests)
    for name, numbers in families():
        kanji = name.startswith("Kanji")
        scale, width = glyph_scale(numbers, MAX_PX - 2 if kanji else GLYPH_PX), 0.8 if kanji else 1.0
        for n in numbers:
            image = draw(*pen_path(strokes[n], scale), drawers=1, rng=None, width=width)[0]
            ys, xs = np.nonzero(image > 0.2)
            box = (np.ptp(ys) + 1) * (np.ptp(xs) + 1) if len(ys) else 1
            ok = image.sum() >= min_ink and (image > 0.5).sum() <= max_fill * max(box, 64)
            candidates.append((name, n, scale, width, ok, image))
    templates = np.stack([_blur(c[5]) for c in candidates])
    similar = templates @ templates.T > max_similarity
    kept = np.zeros(len(candidates), bool)
    out, start = [], 0
    while start < len(candidates):
        name, _, scale, width = candidates[start][:4]
        stop = start
        while stop < len(candidates) and candidates[stop][0] == name:
            i = stop
            kept[i] = candidates[i][4] and not (similar[i] & kept).any()
            stop += 1
        chosen = [candidates[i][1] for i in range(start, stop) if kept[i]]
        if len(chosen) >= min_size:
            out.append((name, tuple(chosen), scale, width))
        else:
            kept[start:stop] = False
        start = stop
    return tuple(out)


def _blur(image: np.ndarray) -> np.ndarray:
    """Unit-norm, centred, blurred (σ = 1 px) flattened copy of an image, for near-duplicate tests."""
    r = np.arange(SIZE, dtype=np.float64)
    g = np.exp(-(r[:, None] - r[None, :]) ** 2 / (2 * 1.0 ** 2))
    t = (g @ image @ g.T).ravel()
    t = t - t.mean()
    return t / max(np.linalg.norm(t), 1e-12)


def render(number: int, scale: float, width: float, drawers: int, seed: int) -> np.ndarray:
    """`drawers` hand-drawn copies [D, 28, 28] uint8 of Hershey glyph `number`, determined by (seed, number)."""
    rng = np.random.default_rng([seed, number])
    images = draw(*pen_path(hershey_strokes()[number], scale), drawers=drawers, rng=rng, width=width)
    return np.round(images * 255).astype(np.uint8)
