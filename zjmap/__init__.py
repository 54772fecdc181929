"""zjmap: a desktop map explorer for Zhejiang and YRD regional planners."""

__version__ = "0.1.0"
