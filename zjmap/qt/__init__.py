"""Thin Qt layer: views and widgets that wire the core to the screen."""
