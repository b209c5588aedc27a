"""Fibroglandular texture: Gaussian noise with a power-law spectrum.

Real mammograms have an anatomical-noise power spectrum P(f) ~ 1/f^beta with
beta around 3 (Burgess et al. 2001, Heine & Velthuizen 2002).  We shape white
noise directly in the Fourier domain, which makes a field of that exact
spectrum in one inverse FFT.
"""

from __future__ import annotations

import numpy as np
import scipy.fft

# Two workers matches the smallest machines we target; scipy ignores extra.
_FFT_WORKERS = 2


def white_spectrum(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Complex white noise for an rfft2 layout of ``shape`` (complex64)."""
    rows, cols = shape
    half = cols // 2 + 1
    spec = np.empty((rows, half), dtype=np.complex64)
    spec.real = rng.standard_normal((rows, half), dtype=np.float32)
    spec.imag = rng.standard_normal((rows, half), dtype=np.float32)
    return spec


def power_law_field(
    spectrum: np.ndarray,
    shape: tuple[int, int],
    beta: float,
    anisotropy: float = 1.0,
) -> np.ndarray:
    """Zero-mean, unit-std float32 field with power spectrum ~ 1/f^beta.

    ``spectrum`` is white noise from :func:`white_spectrum` (it is not
    modified).  ``anisotropy`` > 1 stretches structures along the image rows,
    i.e. along the nipple axis, like ducts and Cooper's ligaments.
    """
    rows, cols = shape
    fy = scipy.fft.fftfreq(rows).astype(np.float32)[:, None]
    fx = scipy.fft.rfftfreq(cols).astype(np.float32)[None, :]
    f2 = (fx * anisotropy) ** 2 + (fy / anisotropy) ** 2
    f2[0, 0] = 1.0  # avoid 0**-x; the DC term is zeroed below
    # Amplitude is the square root of the power: f^(-beta/2) = (f^2)^(-beta/4).
    amp = np.power(f2, np.float32(-beta / 4.0), dtype=np.float32)
    amp[0, 0] = 0.0
    field = scipy.fft.irfft2(spectrum * amp, s=shape, workers=_FFT_WORKERS)
    field = field.astype(np.float32, copy=False)
    field -= field.mean(dtype=np.float64)
    field /= np.float32(field.std(dtype=np.float64) + 1e-12)
    return field
