"""Tiny numpy raster helpers for the ``rgb_array`` renders (no plotting library needed)."""

from __future__ import annotations

import numpy as np

WHITE = (255, 255, 255)
BLACK = (0, 0, 0)
GREY = (200, 200, 200)
DARK = (90, 90, 90)
RED = (220, 60, 60)
GREEN = (60, 170, 80)
BLUE = (60, 100, 220)
ORANGE = (240, 150, 40)


def canvas(height: int, width: int, color: tuple[int, int, int] = WHITE) -> np.ndarray:
    """A ``uint8 [height, width, 3]`` image filled with ``color``."""
    img = np.empty((height, width, 3), dtype=np.uint8)
    img[:] = color
    return img


def fill(img: np.ndarray, top: int, left: int, h: int, w: int, color: tuple[int, int, int]) -> None:
    """Fill a rectangle (clipped to the image)."""
    img[max(top, 0) : max(top + h, 0), max(left, 0) : max(left + w, 0)] = color


def frame(img: np.ndarray, top: int, left: int, h: int, w: int, color: tuple[int, int, int]) -> None:
    """Draw a one-pixel rectangle outline."""
    fill(img, top, left, 1, w, color)
    fill(img, top + h - 1, left, 1, w, color)
    fill(img, top, left, h, 1, color)
    fill(img, top, left + w - 1, h, 1, color)


def line(img: np.ndarray, p0: tuple[float, float], p1: tuple[float, float], color: tuple[int, int, int],
         width: int = 1) -> None:
    """Draw a straight segment from ``p0`` to ``p1`` (row, col) by dense sampling."""
    n = int(max(abs(p1[0] - p0[0]), abs(p1[1] - p0[1]))) * 2 + 2
    t = np.linspace(0.0, 1.0, n)
    rows = np.round(p0[0] + t * (p1[0] - p0[0])).astype(int)
    cols = np.round(p0[1] + t * (p1[1] - p0[1])).astype(int)
    for dr in range(-(width // 2), width - width // 2):
        for dc in range(-(width // 2), width - width // 2):
            r = np.clip(rows + dr, 0, img.shape[0] - 1)
            c = np.clip(cols + dc, 0, img.shape[1] - 1)
            img[r, c] = color


def disc(img: np.ndarray, center: tuple[float, float], radius: float, color: tuple[int, int, int]) -> None:
    """Fill a disc."""
    rr, cc = np.ogrid[: img.shape[0], : img.shape[1]]
    img[(rr - center[0]) ** 2 + (cc - center[1]) ** 2 <= radius**2] = color


def shade(value: float, low: tuple[int, int, int] = WHITE, high: tuple[int, int, int] = BLUE) -> tuple[int, int, int]:
    """Linear colour between ``low`` (value 0) and ``high`` (value 1)."""
    v = float(np.clip(value, 0.0, 1.0))
    return tuple(int(round(a + v * (b - a))) for a, b in zip(low, high, strict=True))  # type: ignore[return-value]
