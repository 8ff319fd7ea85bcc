"""moto_server, serving one request at a time; same options (-H HOST -p PORT).

moto 5.2.5 checks a write's ConditionExpression and then writes, with no lock between, on a
threaded server: two concurrent conditional updates can both pass (the store's 16-updates test
saw two winners about one run in three). DynamoDB applies each item's writes atomically; one
request at a time gives moto that guarantee, so that the tests test the store, not moto.
"""

import threading

from moto import server

_run_simple = server.run_simple
_one_at_a_time = threading.Lock()


def _serialized(host, port, app, **options):
    def serialized_app(environ, start_response):
        with _one_at_a_time:
            return list(app(environ, start_response))

    _run_simple(host, port, serialized_app, **options)


server.run_simple = _serialized
server.main()
