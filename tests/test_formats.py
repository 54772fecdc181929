"""One registry of file formats; problems carry a kind the window decides on."""

from __future__ import annotations

import corpus
import pytest

from zjmap.core import formats
from zjmap.core.userfiles import OVERRIDABLE_KINDS, UserFileError, open_source, read_layer

def _lone_dbf(d):
    shp = corpus.gbk_shapefile_no_cpg(d)
    shp.unlink()
    return shp.with_suffix(".dbf")


KINDS = [
    (lambda d: d / "nowhere.shp", "missing"),
    (_lone_dbf, "missing"),
    (corpus.zero_byte_shp, "damaged"),
    (corpus.truncated_shp, "damaged"),
    (corpus.text_shp, "not_map_data"),
    (corpus.empty_zip, "empty"),
    (corpus.zip_without_shapefile, "not_map_data"),
    (corpus.garbage_prj, "crs"),
]


@pytest.mark.parametrize(("make", "kind"), KINDS)
def test_each_problem_has_its_kind(tmp_path, make, kind):
    with pytest.raises(UserFileError) as exc_info:
        read_layer(make(tmp_path))
    assert exc_info.value.kind == kind
    # only encoding and CRS problems are offered the choose-by-hand dialog
    assert (exc_info.value.kind in OVERRIDABLE_KINDS) == (kind in ("encoding", "crs"))


def test_encoding_and_crs_problems_are_overridable_kinds(tmp_path):
    shp = corpus.gbk_shapefile_no_cpg(tmp_path)
    with pytest.raises(UserFileError) as wrong_encoding:
        read_layer(shp, encoding="UTF-8")
    with pytest.raises(UserFileError) as unknown_crs:
        read_layer(shp, crs="EPSG:nonsense")
    assert wrong_encoding.value.kind == "encoding" and unknown_crs.value.kind == "crs"
    # the kind survives open_source's layer listing too
    with pytest.raises(UserFileError) as listed:
        open_source(corpus.text_shp(tmp_path))
    assert listed.value.kind == "not_map_data"


def test_an_unknown_kind_is_refused():
    with pytest.raises(ValueError):
        UserFileError("x", kind="bad luck")


def test_each_format_names_its_extensions_once():
    exts = [e for f in formats.FORMATS for e in f.extensions]
    assert len(exts) == len(set(exts))
    assert formats.by_suffix(".GPKG").key == "gpkg" and formats.by_suffix(".xlsx") is None
    flt = formats.open_filter()
    for f in formats.FORMATS:
        if not f.folder:
            assert f"{f.label} ({' '.join('*' + e for e in f.extensions)})" in flt
    assert ".gdb" in formats.drop_suffixes() and ".dbf" in formats.drop_suffixes()
    assert "*.gdb" not in flt  # a folder is not picked in a file dialog


def test_every_format_reads_through_the_registry(tmp_path):
    """A format's opener (or its GDAL driver) is what reads it: one file of each kind."""
    for sub in "abcde":
        (tmp_path / sub).mkdir()
    made = {
        "shapefile": corpus.gbk_shapefile_no_cpg(tmp_path / "a"),
        "gpkg": corpus.multilayer_gpkg(tmp_path / "b"),
        "kml": corpus.kml_file(tmp_path / "c"),
        "flatgeobuf": corpus.fgb_file(tmp_path / "d"),
        "csv": corpus.csv_lonlat(tmp_path / "e"),
    }
    for key, path in made.items():
        fmt = formats.by_suffix(path.suffix)
        assert fmt is not None and fmt.key == key
        assert open_source(path).driver == fmt.driver
