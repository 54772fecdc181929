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
        """Every layer on the stack that has no job yet (the shipped ones at map
        ready), one after another on one worker: a thread per layer cost the
        window's start a millisecond each to start (30 layers)."""
        ids = [layer.id for layer in self.stack if layer.id not in self.jobs]
        if ids:
            self._start(*ids)

    def _on_stack(self, event: str, layer_id: str) -> None:
        if event == "added":
            self._cancel(layer_id)
            self._start(layer_id)
        elif event == "removed":
            self._cancel(layer_id)

    def _start(self, *layer_ids: str) -> None:
        layers = [self.stack.layer(i) for i in layer_ids]
        jobs = self.jobs

        def work(state) -> None:
            for layer in layers:
                if state.is_cancelled():
                    return
                if jobs.get(layer.id) is not job:  # removed, or added again (a job of its own) meanwhile
                    continue
                try:
                    self.identifier.prepare(layer, state.is_cancelled)
                except Exception as exc:  # noqa: BLE001 - the first click builds it instead; the others go on
                    log.warning("identify index of %s: %s", layer.id, exc)

        job = Worker(work, name=f"zjmap-identify-{layer_ids[0]}", parent=self)
        job.finished.connect(lambda _status: self._ended(job))
        for i in layer_ids:
            jobs[i] = job
        job.start()

    def _ended(self, job: Worker) -> None:
        for i in [i for i, j in self.jobs.items() if j is job]:
            del self.jobs[i]
        job.deleteLater()  # a child kept by this object would keep its layers alive (its work holds them)

    def _cancel(self, layer_id: str) -> None:
        job = self.jobs.pop(layer_id, None)
        if job is not None and job not in self.jobs.values():  # no other layer's index still to come from it
            job.cancel()
