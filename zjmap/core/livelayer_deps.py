"""What a live server layer needs, imported in one go (a warm-up before the first one is added)."""

from zjmap.core import livelayer, postgis, userlayers, webfeatures  # noqa: F401
