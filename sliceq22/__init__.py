"""sliceq22: music source separation research on the sliced constant-Q transform."""

__version__ = "0.1.0"
