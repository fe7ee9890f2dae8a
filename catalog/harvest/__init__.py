"""Harvesting into the catalog: registered sources, runs, per-record errors and duplicate links.

The sources themselves live in :mod:`harvesters` (pure); this package decides what their
records mean for the store: GUIDs, unchanged detection, withdrawals and failure isolation.
"""

from catalog.harvest.service import HarvestService, RunSummary, SourceBusy, UnknownSource

__all__ = ["HarvestService", "RunSummary", "SourceBusy", "UnknownSource"]
