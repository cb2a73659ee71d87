"""The REST API: the original product's HTTP contract and every dashboard action, over the runtime.

The second door into the same `Runtime` the dashboard uses, so the two always see the
same models, data and loop; neither holds logic the other lacks. A launcher starts it: beside
the dashboard (`core.startup`, on API_HOST:API_PORT) or headless with `python -m core.api`
(the API and the loop, no UI). Both bind 127.0.0.1 by default; with IA_API_TOKEN set every
mutating call needs `Authorization: Bearer <token>`, and a non-loopback address without a
token refuses to start.

One router per resource (`routes/`), the runtime and the token guard as dependencies
(`deps`), one error mapping (`errors`), one reply builder per body (`replies`) shared by the
routes and by the plain-ASGI /predict fast path (`fast`).

Errors: bad input is a 422 naming the field and its limit (the validation layer's
message), no model yet a 503, a conflict (a training or a cycle under way) a 409, an
internal error a 500 with an error id that is also in the log, never a traceback.
"""

from core.api.app import create_app, serving_app
from core.api.fast import FastPredict
from core.api.server import ApiServer, check_binding

__all__ = ["ApiServer", "FastPredict", "check_binding", "create_app", "serving_app"]
