"""grader: grades deep-learning course notebooks against reference solutions."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("grader")
except PackageNotFoundError:
    __version__ = "0.0.0+source"
