"""The image viewer: tiles, the hanging grid, progressive image loading."""
