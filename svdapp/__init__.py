"""svdapp: a product photo in, a short browser-playable product video out (Stable Video Diffusion)."""

__version__ = "0.1.0"
