"""Emulated NetSuite REST web services (TBA + M2M auth, SuiteQL on DuckDB, record API) for the sandbox."""

from .backend import NetSuiteBackend

__all__ = ["NetSuiteBackend"]
