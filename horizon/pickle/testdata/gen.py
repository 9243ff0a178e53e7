#!/usr/bin/env python
"""Regenerate the pickle fixtures of horizon/pickle with real Python.

Run from this directory with both interpreters (Python 2 writes py2-*, Python 3 py3-*):

    python3 gen.py && python2 gen.py

Every fixture is pickled with every protocol the interpreter has (Python 2: 0-2,
Python 3: 0-5) and written as <py>-p<protocol>-<name>.pickle. pickle_test.go quotes the
Python source of each fixture next to what it must decode to. Also written are carbon500,
a frame of 500 datapoints the way carbon-relay sends them (for BenchmarkDecode), and
bytes500, 500 items with bytes names (Python 3 pickles them as _codecs.encode calls in
protocols 0-2), both in the protocols that need the most opcodes per item.
"""
from __future__ import print_function

import os
import sys

try:
    import cPickle as pickle  # Python 2, as carbon uses it
except ImportError:
    import pickle

PY = "py%d" % sys.version_info[0]
HERE = os.path.dirname(os.path.abspath(__file__))


class Evil(object):
    """Unpickling this runs os.system("echo pwned") in Python: a REDUCE of a GLOBAL."""

    def __reduce__(self):
        return (os.system, ("echo pwned",))


GOOD = ("good", (1, 2))

FIXTURES = {
    # Good payloads.
    "basic": [("a.b", (1700000000, 1.5))],
    # carbon-relay sends float timestamps and values.
    "carbon": [("carbon.agents.a.cpu", (1700000000.0, 0.5)), ("carbon.agents.a.mem", (1700000010.0, 1024.0))],
    # Millisecond timestamps (LONG1 / L...L), negatives, 2**62, tiny floats, lists for tuples.
    "mixed": [("a", (1700000000000, -2)), (u"b", (-1, 2 ** 62)), ["c", [0, 1e-300]]],
    "tuple": (("a.b", (1, 2.5)),),
    # The same name object twice: the second is a memo GET.
    "repeat": [("a.b", (1, 1.0)), ("a.b", (2, 2.0))],
    "empty": [],
    # Items rejected one by one, next to a good one.
    "nan": [("a.b", (1, float("nan"))), ("c.d", (float("inf"), 1)), ("e.f", (1, float("-inf"))), GOOD],
    "badtypes": [("a", (1, True)), ("b", (1, None)), ("c", (1, "1.5")), ("d", (1,)), ("e", 1),
                 (1, (1, 2)), ("g", (1, 2 ** 70)), ("h", (1, 2), 3), GOOD],
    "badnames": [("a b", (1, 2)), ("", (1, 2)), ("x" * 256, (1, 2)), ("<script>", (1, 2)), GOOD],
    "global": [(os.system, (1, 2)), ("a.b", (1, os.system)), GOOD],
    "reduce": [("a.b", (1, Evil())), (Evil(), (1, 2)), GOOD],
    # Payloads rejected as a whole.
    "evil": Evil(),
    "dict": {"a.b": (1, 2)},
}

if PY == "py3":
    FIXTURES["bytesname"] = [(b"a.b", (1, 2))]
    FIXTURES["nonutf8"] = [(b"\xff\xfe", (1, 2)), (u"\u00e9t\u00e9", (1, 2)), GOOD]
else:
    FIXTURES["nonutf8"] = [("\xff\xfe", (1, 2)), (u"\u00e9t\u00e9", (1, 2)), GOOD]


def carbon500():
    return [("carbon.agents.host-%02d.cache.metric_%03d" % (i % 16, i), (1700000000.0 + 10 * i, i * 37.5))
            for i in range(500)]


def bytes500():
    return [(("m.%03d" % i).encode("ascii"), (1700000000 + 10 * i, i)) for i in range(500)]


def write(name, data):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


def main():
    for name, value in sorted(FIXTURES.items()):
        for proto in range(pickle.HIGHEST_PROTOCOL + 1):
            data = pickle.dumps(value, proto)
            if name not in ("evil", "global", "reduce"):
                # Round-trip check (never for the malicious ones: loading them runs code).
                assert repr(pickle.loads(data)) == repr(value), name
            write("%s-p%d-%s.pickle" % (PY, proto, name), data)
    # Large frames: for the benchmark, and to check that the pre-scan's per-item budgets
    # admit real frames of exactly MaxItems items in the protocols that need the most opcodes.
    if PY == "py3":
        for proto in (0, 2, 4):
            write("py3-p%d-carbon500.pickle" % proto, pickle.dumps(carbon500(), proto))
        for proto in (0, 2, 3):
            write("py3-p%d-bytes500.pickle" % proto, pickle.dumps(bytes500(), proto))
    else:
        for proto in (0, 2):
            write("py2-p%d-carbon500.pickle" % proto, pickle.dumps(carbon500(), proto))


if __name__ == "__main__":
    main()
