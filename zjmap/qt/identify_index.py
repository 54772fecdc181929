"""Identify indexes built ahead, so the first click on a layer is as quick as the next.

A layer's identify index (an STRtree of a big table's 100,000 polygons, the
longitude order of a million points; :meth:`zjmap.core.identify.Identifier.prepare`)
used to be built by the first click on it, which then took three to ten
times as long as the next. Here each layer's index is built on a worker as
soon as the layer is on the stack (the shipped layers once the map is ready);
removing the layer cancels its job, and the worker is a child of this object,
so it goes with the window. A click that comes first still works: a point
click scans the coordinates meanwhile; a tree click waits for the tree in
progress instead of building another.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject

from zjmap.core.identify import Identifier
from zjmap.core.layers import LayerStack
from zjmap.qt.worker import Worker

log = logging.getLogger(__name__)


class IdentifyIndexer(QObject):
    def __init__(self, identifier: Identifier, stack: LayerStack, parent: QObject | None = None):
        super().__init__(parent)
        self.identifier = identifier
        self.stack = stack
        self.jobs: dict[str, Worker] = {}  # layer id → the job preparing it (one job may prepare several)
        self._dropped: dict[Worker, set[str]] = {}
        stack.subscribe(self._on_stack)

    def prepare_all(self) -> None:
        """Every layer on the stack that has no job yet (the shipped ones at
        map ready), one after another on one worker: a thread each, 29 of
        them, took ~30 ms of the window's completion just to start."""
        ids = [layer.id for layer in self.stack if layer.id not in self.jobs]
        if ids:
            self._start(ids)

    def _on_stack(self, event: str, layer_id: str) -> None:
        if event == "added":
            self._cancel(layer_id)
            self._start([layer_id])
        elif event == "removed":
            self._cancel(layer_id)

    def _start(self, layer_ids: list[str]) -> None:
        layers = [(lid, self.stack.layer(lid)) for lid in layer_ids]
        dropped: set[str] = set()  # removed meanwhile: the job goes on with the others

        def work(state) -> None:
            for lid, layer in layers:
                if state.is_cancelled():
                    return
                if lid in dropped:
                    continue
                try:
                    self.identifier.prepare(layer, lambda lid=lid: state.is_cancelled() or lid in dropped)
                except Exception as exc:  # noqa: BLE001 (the first click builds it instead)
                    log.warning("identify index of %s: %s", lid, exc)

        name = layer_ids[0] if len(layer_ids) == 1 else f"{len(layer_ids)}-layers"
        job = Worker(work, name=f"zjmap-identify-{name}", parent=self)
        job.finished.connect(lambda _status: self._ended(job))
        self._dropped[job] = dropped
        for lid in layer_ids:
            self.jobs[lid] = job
        job.start()

    def _ended(self, job: Worker) -> None:
        for lid in [k for k, j in self.jobs.items() if j is job]:
            del self.jobs[lid]  # the worker frees itself once its thread returned (its work holds the layers)
        self._dropped.pop(job, None)

    def _cancel(self, layer_id: str) -> None:
        job = self.jobs.pop(layer_id, None)
        if job is None:
            return
        if any(j is job for j in self.jobs.values()):  # it prepares other layers too
            self._dropped[job].add(layer_id)
        else:
            job.cancel()
