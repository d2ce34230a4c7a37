"""Function lengths in C++ files written in Google style: a function definition starts at a
column-0 line (its signature, possibly continued on indented lines) and its body ends at the
next line that is exactly "}". Prints the longest five and how many exceed the limit, and
exits with status 1 when any does (.ci/run keeps nn/ within 80 lines a function).
Usage: python3 .ci/function_lengths.py LIMIT FILES...  (e.g. 80 nn/*.cc nn/*.h)"""
import re, sys
limit = int(sys.argv[1]); found = []
skip = re.compile(r"(namespace|class|struct|enum|union|extern|template|//|#|}|using|typedef)")
for path in sys.argv[2:]:
    lines = open(path).read().split("\n")
    sig = start = None
    for i, l in enumerate(lines):
        if start is None:
            if l and not l[0].isspace() and not skip.match(l) and "(" in l:
                sig = i
            if sig is not None:
                if l.rstrip().endswith("{"):
                    start, sig = sig, None
                elif l.rstrip().endswith(";") or (l and not l[0].isspace() and i != sig):
                    sig = None
        elif l == "}":
            found.append((i - start + 1, path, start + 1, lines[start][:70])); start = None
found.sort(reverse=True)
for n, p, ln, head in found[:5]: print(f"{n:4d} {p}:{ln} {head}")
over = sum(1 for f in found if f[0] > limit)
print(f"{len(found)} functions; over {limit} lines: {over}")
sys.exit(1 if over else 0)
