# Generates the pickle fixtures of encode_test.go: what a Python 3 carbon sender writes for
# one frame (pickle.dumps(list, protocol=2), the carbon pickle protocol, no length prefix),
# and the same pickle with its unused memo PUTs removed by pickletools.optimize, which is
# byte for byte what loadgen's encoder writes.
# Run: python3 python-protocol2.py
import pickle
import pickletools

points = [
    ("loadgen.000000", (1700000000, 0.125)),
    ("loadgen.000001", (1700000001, 255.875)),
    ("loadgen.000002", (5, 12.625)),
    ("loadgen.000003", (300, 0.375)),
    ("loadgen.000004", (5000000000, 100.125)),
]
raw = pickle.dumps(points, protocol=2)
with open("python-protocol2.pickle", "wb") as f:
    f.write(raw)
with open("python-protocol2-optimized.pickle", "wb") as f:
    f.write(pickletools.optimize(raw))
