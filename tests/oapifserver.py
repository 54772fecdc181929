"""A real OGC API Features server for the tests: pygeoapi (PyPI) on 127.0.0.1.

It serves two collections: ``parcels_gpkg`` from a GeoPackage the tests
write (SQLiteGPKG provider, needs Debian's libsqlite3-mod-spatialite) and
``parcels_pg``, the PostGIS parcels of the ``pg`` fixture (PostgreSQL
provider), offered in CRS84, EPSG:4326 and EPSG:4490. pygeoapi 0.21 turns a
CRS84 bbox into a storage CRS such as EPSG:4490 with the axes swapped (its
Transformer is not always_xy), so it serves the table's EPSG:4326 copy
(``parcels84``), which it stores as CRS84 and queries right.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

import requests

from pgserver import free_port

CRS = {
    "CRS84": "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
    "4326": "http://www.opengis.net/def/crs/EPSG/0/4326",
    "4490": "http://www.opengis.net/def/crs/EPSG/0/4490",
}

# pygeoapi's GeoPackage provider loads SpatiaLite into the stdlib sqlite3; a
# Python built without loadable extensions (some pyenv builds) gets
# pysqlite3-binary's module in its place.
_RUN = """
import sqlite3, sys
if not hasattr(sqlite3.connect(":memory:"), "enable_load_extension"):
    import pysqlite3
    sys.modules["sqlite3"] = pysqlite3
from pygeoapi.flask_app import APP
APP.run(host="127.0.0.1", port=int(sys.argv[1]), threaded=True, use_reloader=False)
"""


def _config(port: int, gpkg: str, pg) -> str:
    crs_list = "\n".join(f"                - {u}" for u in CRS.values())
    return f"""
server:
    bind: {{host: 127.0.0.1, port: {port}}}
    url: http://127.0.0.1:{port}
    mimetype: application/json; charset=UTF-8
    encoding: utf-8
    languages: [en-US]
    limits: {{default_items: 100, max_items: 1000}}
    map: {{url: 'http://127.0.0.1/none', attribution: 'none'}}
logging:
    level: ERROR
metadata:
    identification:
        title: zjmap tests
        description: test server
        keywords: [test]
        keywords_type: theme
        terms_of_service: none
        url: http://127.0.0.1
    license: {{name: CC-BY 4.0, url: 'https://creativecommons.org/licenses/by/4.0/'}}
    provider: {{name: zjmap, url: 'http://127.0.0.1'}}
    contact: {{name: zjmap, position: none, address: none, city: none, stateorprovince: none, postalcode: none,
              country: none, phone: none, fax: none, email: none, url: none, hours: none, instructions: none,
              role: pointOfContact}}
resources:
    parcels_gpkg:
        type: collection
        title: 地块 GeoPackage
        description: parcels from a GeoPackage
        keywords: [parcels]
        extents:
            spatial: {{bbox: [119.8, 30.0, 120.5, 30.6], crs: 'http://www.opengis.net/def/crs/OGC/1.3/CRS84'}}
        providers:
            - type: feature
              name: SQLiteGPKG
              data: {gpkg}
              id_field: fid
              table: parcels
    parcels_pg:
        type: collection
        title: 地块 PostGIS
        description: parcels from PostGIS
        keywords: [parcels]
        extents:
            spatial: {{bbox: [119.8, 30.0, 120.5, 30.6], crs: 'http://www.opengis.net/def/crs/OGC/1.3/CRS84'}}
        providers:
            - type: feature
              name: PostgreSQL
              data: {{host: 127.0.0.1, port: {pg.port}, dbname: zjmap, user: postgres, password: '{pg_password()}',
                     search_path: [public]}}
              id_field: gid
              table: parcels84
              geom_field: geom
              crs:
{crs_list}
"""


def pg_password() -> str:
    from pgserver import PASSWORD

    return PASSWORD


@dataclass
class OapifServer:
    root: str
    port: int
    proc: subprocess.Popen

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def collection(self, name: str) -> str:
        return f"{self.url}/collections/{name}"

    @classmethod
    def start(cls, pg, gpkg: str) -> "OapifServer":
        root = tempfile.mkdtemp(prefix="zjmap-oapif-")
        port = free_port()
        cfg = os.path.join(root, "config.yml")
        with open(cfg, "w", encoding="utf-8") as fh:
            fh.write(_config(port, gpkg, pg))
        env = dict(os.environ, PYGEOAPI_CONFIG=cfg, PYGEOAPI_OPENAPI=os.path.join(root, "openapi.yml"))
        gen = _RUN.split("from pygeoapi")[0] + "from pygeoapi.openapi import openapi; openapi()"
        subprocess.run([sys.executable, "-c", gen, "generate", cfg, "--output-file", env["PYGEOAPI_OPENAPI"]],
                       check=True, env=env, capture_output=True)
        log = open(os.path.join(root, "log"), "wb")
        proc = subprocess.Popen([sys.executable, "-c", _RUN, str(port)], env=env, stdout=log, stderr=log)
        srv = cls(root, port, proc)
        end = time.monotonic() + 60
        while time.monotonic() < end:
            if proc.poll() is not None:
                raise RuntimeError("pygeoapi stopped: " + open(os.path.join(root, "log"), encoding="utf-8", errors="replace").read()[-2000:])
            try:
                if requests.get(srv.url + "/collections?f=json", timeout=2).status_code == 200:
                    return srv
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        srv.stop()
        raise RuntimeError("pygeoapi did not start within 60 s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
