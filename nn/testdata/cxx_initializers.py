"""Prints tensors as C++ initialisers for the tests that embed PyTorch's numbers (the
scripts beside this file import it): emit('kName', t) prints
    const std::vector<float> kName = {
        1.5f, -0.25f, ...
    };
with 9 significant digits (float32 round-trips) and a float literal for every value."""


def fmt(v):
    s = '%.9g' % v
    if 'e' not in s and '.' not in s:
        s += '.0'
    return s + 'f'


def emit(name, t):
    vals = [fmt(v) for v in t.detach().reshape(-1).tolist()]
    lines, line = [], '   '
    for v in vals:
        if len(line) + len(v) + 2 > 90:
            lines.append(line)
            line = '   '
        line += ' ' + v + ','
    lines.append(line)
    print('const std::vector<float> %s = {\n%s\n};' % (name, '\n'.join(lines)))
