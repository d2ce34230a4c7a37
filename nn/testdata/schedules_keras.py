"""Expected values of nn/schedules.h's schedules, from the formulas Keras 3 documents for
keras.optimizers.schedules (ExponentialDecay, PiecewiseConstantDecay, CosineDecay with
linear warm-up), written out here with Python's math in double precision (TensorFlow is not
needed). nn/schedules_test.cc embeds what this prints.

Run: python3 nn/testdata/schedules_keras.py
"""
import math


def exponential(initial, decay_steps, rate, staircase, step):
    p = step / decay_steps
    if staircase:
        p = math.floor(p)
    return initial * rate ** p


def piecewise(boundaries, values, step):
    if step <= boundaries[0]:
        return values[0]
    for low, high, v in zip(boundaries[:-1], boundaries[1:], values[1:-1]):
        if low < step <= high:
            return v
    return values[-1]


def cosine(initial, decay_steps, alpha, warmup_target, warmup_steps, step):
    def decayed(s, start):
        cosine_decayed = 0.5 * (1.0 + math.cos(math.pi * (s / decay_steps)))
        return start * ((1 - alpha) * cosine_decayed + alpha)

    if warmup_target is None:
        return decayed(min(step, decay_steps), initial)
    s = min(step, decay_steps + warmup_steps)
    if s < warmup_steps:
        return (warmup_target - initial) * (s / warmup_steps) + initial
    return decayed(s - warmup_steps, warmup_target)


STEPS = [0, 1, 2, 3, 5, 6, 7, 8, 13, 14, 15, 16, 40]


def emit(name, values):
    print("const std::vector<double> %s = {" % name)
    print("    " + ", ".join("%.17g" % v for v in values) + "};")


print("// Steps: {%s}" % ", ".join(str(s) for s in STEPS))
emit("kExponential", [exponential(0.1, 7, 0.5, False, s) for s in STEPS])
emit("kExponentialStaircase", [exponential(0.1, 7, 0.5, True, s) for s in STEPS])
emit("kPiecewise", [piecewise([3, 7, 14], [1.0, 0.5, 0.25, 0.125], s) for s in STEPS])
emit("kCosine", [cosine(0.2, 13, 0.1, None, 0, s) for s in STEPS])
emit("kCosineWarmup", [cosine(0.01, 11, 0.05, 0.3, 5, s) for s in STEPS])
emit("kCosineNoWarmupSteps", [cosine(0.01, 11, 0.0, 0.3, 0, s) for s in STEPS])
