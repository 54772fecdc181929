"""The whole seed document, scrolled to a quote and with the quote marked."""

from __future__ import annotations

import html

from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout


class DocumentDialog(QDialog):
    def __init__(self, title: str, text: str, start: int, end: int, parent=None):
        super().__init__(parent)
        self.setWindowTitle(title)
        self.resize(760, 640)
        self.browser = QTextBrowser(self)
        body = (
            html.escape(text[:start])
            + "<a name='quote'></a><span style='background:#ffe680'>"
            + html.escape(text[start:end])
            + "</span>"
            + html.escape(text[end:])
        )
        self.browser.setHtml(f"<div style='white-space:pre-wrap;line-height:140%'>{body}</div>")
        self.start, self.end = start, end
        lay = QVBoxLayout(self)
        lay.addWidget(self.browser)
        bb = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        bb.rejected.connect(self.reject)
        lay.addWidget(bb)
        self.browser.scrollToAnchor("quote")
        cur = QTextCursor(self.browser.document())
        cur.setPosition(start)
        cur.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
        self.browser.setTextCursor(cur)
        self.browser.ensureCursorVisible()

    def selected_text(self) -> str:
        return self.browser.textCursor().selectedText()
