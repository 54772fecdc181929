"""Qt-free core: data, provenance, geometry, selection and export.

Nothing under this package may import Qt (checked by the import-linter
contract in pyproject.toml), so all of it runs and tests without a display.
"""
