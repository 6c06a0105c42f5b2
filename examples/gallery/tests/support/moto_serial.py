"""moto's server (as `moto_server -H HOST -p PORT` runs it), answering one request at a time.

moto checks a `PUT` with `If-None-Match: *` and then stores the object in two steps, so two
uploads racing for one key can both pass the check (2 runs in 20 of the store's contract); S3
itself makes the two one. Served one by one, moto keeps S3's guarantee, which the store's tests
rely on. Usage: python moto_serial.py HOST PORT (PORT 0: a free one, said on the first line).
"""

import sys

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple

run_simple(
    sys.argv[1],
    int(sys.argv[2]),
    DomainDispatcherApplication(create_backend_app),
    threaded=False,
    request_handler=MotoRequestHandler,
)
