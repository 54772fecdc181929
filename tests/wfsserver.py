"""A real WFS 2.0 server for the tests: MapServer (Debian's ``cgi-mapserver``)
serving the PostGIS parcels of the ``pg`` fixture, on 127.0.0.1.

``mapserv`` is a CGI program; the few lines of :class:`_Cgi` run it per
request the way a web server does (QUERY_STRING in, CGI headers out), in a
process of their own (GDAL's reads hold the GIL: a server thread in the
test process would never answer them).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from pgserver import free_port

MAPFILE = """MAP
  NAME "zjmap_wfs"
  EXTENT 119.8 30.0 120.5 30.6
  PROJECTION "init=epsg:4490" END
  WEB
    METADATA
      "wfs_title" "zjmap test WFS"
      "wfs_onlineresource" "{url}/wfs?"
      "wfs_srs" "EPSG:4490 EPSG:4326"
      "wfs_enable_request" "*"
      "wfs_maxfeatures" "1000"
    END
  END
  LAYER
    NAME "parcels"
    TYPE POLYGON
    STATUS ON
    ENCODING "UTF-8"
    CONNECTIONTYPE POSTGIS
    CONNECTION "host={sock} port={port} dbname=zjmap user=postgres"
    DATA "geom FROM public.parcels USING UNIQUE gid USING SRID=4490"
    PROJECTION "init=epsg:4490" END
    METADATA
      "wfs_title" "地块 parcels"
      "wfs_srs" "EPSG:4490 EPSG:4326"
      "gml_include_items" "all"
      "gml_featureid" "gid"
      "gml_types" "auto"
      "wfs_use_default_extent_for_getfeature" "false"
    END
  END
END
"""


CONFIG = """CONFIG
  ENV
    MS_MAPFILE "{mapfile}"
  END
END
"""


class _Cgi(BaseHTTPRequestHandler):
    config = ""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        query = self.path.split("?", 1)[1] if "?" in self.path else ""
        env = {"REQUEST_METHOD": "GET", "QUERY_STRING": query, "MAPSERVER_CONFIG_FILE": self.config,
               "SERVER_NAME": "127.0.0.1", "SERVER_PORT": str(self.server.server_address[1]),
               "SCRIPT_NAME": "/wfs", "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        out = subprocess.run(["mapserv"], env=env, capture_output=True, timeout=60).stdout
        head, _, body = out.partition(b"\r\n\r\n")
        status = 200
        headers = []
        for line in head.decode("latin-1").splitlines():
            k, _, v = line.partition(":")
            if k.lower() == "status":
                status = int(v.split()[0])
            elif k:
                headers.append((k.strip(), v.strip()))
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:  # quiet
        pass


@dataclass
class WfsServer:
    root: str
    port: int
    proc: subprocess.Popen

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/wfs"

    @classmethod
    def start(cls, pg) -> "WfsServer":
        if shutil.which("mapserv") is None:
            raise RuntimeError("MapServer is not installed: run tools/setup.sh as root (make test does)")
        root = tempfile.mkdtemp(prefix="zjmap-wfs-")
        port = free_port()
        mapfile = os.path.join(root, "wfs.map")
        with open(mapfile, "w", encoding="utf-8") as fh:
            fh.write(MAPFILE.format(url=f"http://127.0.0.1:{port}", sock=pg.sockdir, port=pg.port))
        config = os.path.join(root, "mapserver.conf")
        with open(config, "w", encoding="utf-8") as fh:
            fh.write(CONFIG.format(mapfile=mapfile))
        here = os.path.dirname(os.path.abspath(__file__))
        proc = subprocess.Popen([sys.executable, os.path.join(here, "wfsserver.py"), str(port), config],
                                env=dict(os.environ, PYTHONPATH=here))
        srv = cls(root, port, proc)
        import requests

        end = time.monotonic() + 20
        while time.monotonic() < end:
            try:
                requests.get(srv.url + "?SERVICE=WFS&REQUEST=GetCapabilities", timeout=5)
                return srv
            except requests.ConnectionError:
                time.sleep(0.1)
        srv.stop()
        raise RuntimeError("the test WFS did not start")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        shutil.rmtree(self.root, ignore_errors=True)


if __name__ == "__main__":
    handler = type("Cgi", (_Cgi,), {"config": sys.argv[2]})
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), handler).serve_forever()
