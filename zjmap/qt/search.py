"""Search box with completion over every layer's names (zh, en, aliases)."""

from __future__ import annotations

from PySide6.QtCore import QStringListModel, Qt, Signal
from PySide6.QtWidgets import QCompleter, QLineEdit

from zjmap.core.explorer import Explorer


class SearchBox(QLineEdit):
    chosen = Signal(str)  # feature id

    def __init__(self, explorer: Explorer, parent=None):
        super().__init__(parent)
        self.explorer = explorer
        self.setPlaceholderText("搜索地名 Search (Ctrl+F)")
        self.setClearButtonEnabled(True)
        self.setMinimumWidth(260)
        self._results: dict[str, str] = {}
        self.model = QStringListModel(self)
        self.completer = QCompleter(self.model, self)
        self.completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.completer.setMaxVisibleItems(15)
        self.setCompleter(self.completer)
        self.completer.activated[str].connect(self._activated)
        self.textEdited.connect(self._update)
        self.returnPressed.connect(self._return)

    def _update(self, text: str) -> None:
        results = self.explorer.search(text)
        self._results = {f"{r.label}  —  {r.layer_title}": r.feature_id for r in results}
        self.model.setStringList(list(self._results))

    def results(self) -> list[str]:
        return list(self._results)

    def _activated(self, label: str) -> None:
        fid = self._results.get(label)
        if fid:
            self.chosen.emit(fid)

    def _return(self) -> None:
        text = self.text()
        if text in self._results:
            self._activated(text)
            return
        results = self.explorer.search(text, limit=1)
        if results:
            self.chosen.emit(results[0].feature_id)
