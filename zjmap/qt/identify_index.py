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
        self.jobs: dict[str, Worker] = {}
        stack.subscribe(self._on_stack)

    def prepare_all(self) -> None:
        """Every layer on the stack that has no job yet (the shipped ones at map ready)."""
        for layer in self.stack:
            if layer.id not in self.jobs:
                self._start(layer.id)

    def _on_stack(self, event: str, layer_id: str) -> None:
        if event == "added":
            self._cancel(layer_id)
            self._start(layer_id)
        elif event == "removed":
            self._cancel(layer_id)

    def _start(self, layer_id: str) -> None:
        layer = self.stack.layer(layer_id)

        def failed(exc: BaseException) -> None:  # the first click builds it instead
            log.warning("identify index of %s: %s", layer_id, exc)

        def work(state) -> None:
            self.identifier.prepare(layer, state.is_cancelled)

        job = Worker(work, name=f"zjmap-identify-{layer_id}", parent=self)
        job.errored.connect(failed)
        job.finished.connect(lambda _status: self._ended(layer_id, job))
        self.jobs[layer_id] = job
        job.start()

    def _ended(self, layer_id: str, job: Worker) -> None:
        if self.jobs.get(layer_id) is job:
            del self.jobs[layer_id]  # the worker frees itself once its thread returned (its work holds the layer)

    def _cancel(self, layer_id: str) -> None:
        job = self.jobs.pop(layer_id, None)
        if job is not None:
            job.cancel()
