"""Rules both doors (Discord and HTTP) share, and the small pieces they stand on."""

from importlib import metadata

try:
    __version__ = metadata.version("guildhall")
except metadata.PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0.0.0+checkout"
