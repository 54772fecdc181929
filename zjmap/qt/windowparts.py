"""What the main window is built from, in one module that the start-up
imports on a worker while the window's frame, with the map in it, is on
screen (zjmap/qt/startup.py, mainwindow.PARTS); MainWindow.complete takes
its parts from here."""

from __future__ import annotations

from zjmap.core.camera import Camera
from zjmap.core.catalogue import load_catalogue
from zjmap.core.describe import Describer
from zjmap.core.explorer import Explorer
from zjmap.core.shipped import load_shipped, shipped_stack
from zjmap.qt.analysis_dialogs import AnalysisActions
from zjmap.qt.export_dialog import ExportController, ExportSources
from zjmap.qt.hover import HoverTips
from zjmap.qt.identify_index import IdentifyIndexer
from zjmap.qt.layertree import LayerTree
from zjmap.qt.measure_tool import MeasureTool
from zjmap.qt.panels import SidePanel
from zjmap.qt.search import SearchBox
from zjmap.qt.serverlayers import ServerLayerController
from zjmap.qt.tables import TableController
from zjmap.qt.userlayers import UserLayerController
from zjmap.qt.workspace_actions import WindowHooks, WorkspaceController
from zjmap.qt.workspace_menus import start_when_ready, workspace_menus

__all__ = [
    "AnalysisActions", "Camera", "Describer", "ExportController", "ExportSources", "Explorer", "HoverTips",
    "IdentifyIndexer", "LayerTree", "MeasureTool", "SearchBox", "ServerLayerController", "SidePanel",
    "TableController", "UserLayerController", "WindowHooks", "WorkspaceController", "load_catalogue", "load_shipped",
    "shipped_stack", "start_when_ready", "workspace_menus",
]
