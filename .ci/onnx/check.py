#!/usr/bin/python3
"""Checks ONNX files exported by gradway with runtimes gradway did not write.

    /usr/bin/python3 .ci/onnx/check.py [options] CHECK_DIR...

Each CHECK_DIR holds one exported model, as the exporter writes it:
    model.onnx     one float32 input [N, H, W, C] (NHWC) or [N, features], one float32
                   output; the batch dimension is dynamic (a dim_param)
    input.bin      float32, little-endian, row-major: the inputs of all N samples
    expected.bin   float32, little-endian, row-major: gradway's outputs [N, K] for them
    meta.json      {"name": "mnist_cnn", "input_shape": [N, 28, 28, 1],
                    "output_shape": [N, 10], "argmax": true}
                   ("argmax": the outputs are class scores whose argmax must agree)

For each folder it checks, and prints one PASS/FAIL/SKIP line per check:
  onnx.checker  Debian's python3-onnx: check_model(full_check=True) accepts the file; one
                float32 input and output of the meta.json shapes, opset >= 13, and a
                dynamic batch dimension.
  opencv        Debian's python3-opencv: cv2.dnn.readNetFromONNX runs the model. A model
                that OpenCV cannot import or run is reported as SKIP, naming the ONNX node
                and op, and is checked by ONNX Runtime only (with --require-opencv, FAIL).
                Outputs that OpenCV computes must agree like ONNX Runtime's.
  onnxruntime   ONNX Runtime 1.20.1 (npm onnxruntime-node, run by Node.js through
                .ci/onnx/ort_run.js; install it with bash third_party/install_onnxruntime.sh).
Agreement with expected.bin: max |output - expected| / max |expected| <= 1e-5 (--tolerance),
and when meta.json says "argmax": true, every row's argmax is identical.

Options:
  --require-opencv   a model OpenCV cannot run fails instead of being skipped (except the
                     known gaps of opencv_known_gap: sequence models and OPENCV_CANNOT_RUN)
  --batch=B          samples per forward pass in both runtimes (default 500)
  --threads=T        threads for OpenCV and ONNX Runtime (default 1; deterministic)
  --tolerance=R      the relative tolerance (default 1e-5)
Exit status: 0 when nothing failed, 1 when a check failed, 2 for bad usage.
Needs Debian's /usr/bin/python3 (python3-onnx, python3-opencv, python3-numpy) and node.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time

# OpenCV logs an importer error on stderr before raising it; the raised error, which this
# script reports, says the same. A level the caller set is kept.
os.environ.setdefault('OPENCV_LOG_LEVEL', 'FATAL')

try:
    import cv2
    import numpy as np
    import onnx
except ImportError as e:
    sys.exit(f'check.py: {e}; run it with Debian\'s /usr/bin/python3 (python3-onnx, '
             'python3-opencv, python3-numpy: .ci/onnx_check.sh installs them)')

HERE = os.path.dirname(os.path.abspath(__file__))
ORT_RUN = os.path.join(HERE, 'ort_run.js')
MIN_OPSET = 13


class Report:
    def __init__(self):
        self.counts = {'PASS': 0, 'FAIL': 0, 'SKIP': 0}

    def line(self, status, name, check, text):
        self.counts[status] += 1
        print(f'{status} {name} {check}: {text}', flush=True)


# Models OpenCV 4.6's importer cannot run, with why: ONNX Runtime checks them, and they are
# reported as SKIP even with --require-opencv. Outputs OpenCV does compute must still agree.
# Sequence models (input [N, steps, features]): its importer mishandles 3-D tensors
# (a Transpose of one, a MatMul or ReduceMean over the last axis). Named layer forms:
OPENCV_CANNOT_RUN = {
    'conv_layer_norm': 'its Reduce layer cannot reduce the last axis (layer normalisation: '
                       'ReduceMean over axis -1, as torch.onnx writes it below opset 17)',
}
# Layer forms whose name starts with "embedding" begin with an Embedding, whose Gather of
# the input ids OpenCV 4.6 cannot import (it takes constant indices only).
OPENCV_EMBEDDING_GAP = ('its Gather takes constant indices only (an Embedding looks up the '
                        'input ids)')


def opencv_known_gap(meta):
    """Why OpenCV 4.6 cannot run this model, or None when it should."""
    if meta['name'] in OPENCV_CANNOT_RUN:
        return OPENCV_CANNOT_RUN[meta['name']]
    if meta['name'].startswith('embedding'):
        return OPENCV_EMBEDDING_GAP
    if len(meta['input_shape']) == 3:
        return ('a sequence model (input [N, steps, features]): its importer mishandles 3-D '
                'tensors')
    return None


def read_check_dir(path):
    """Returns (meta, x, expected); raises ValueError naming what is wrong."""
    with open(os.path.join(path, 'meta.json')) as f:
        meta = json.load(f)
    for key in ('name', 'input_shape', 'output_shape', 'argmax'):
        if key not in meta:
            raise ValueError(f'meta.json has no "{key}"')
    in_shape, out_shape = meta['input_shape'], meta['output_shape']
    for key, shape in (('input_shape', in_shape), ('output_shape', out_shape)):
        if (not isinstance(shape, list) or len(shape) < 2 or
                not all(isinstance(d, int) and d >= 1 for d in shape)):
            raise ValueError(f'meta.json "{key}" must be a list of 2+ positive integers: {shape}')
    if in_shape[0] != out_shape[0]:
        raise ValueError(f'input_shape {in_shape} and output_shape {out_shape} differ in N')
    arrays = []
    for file, shape in (('input.bin', in_shape), ('expected.bin', out_shape)):
        data = np.fromfile(os.path.join(path, file), dtype='<f4')
        if data.size != np.prod(shape):
            raise ValueError(f'{file} holds {data.size} floats; shape {shape} needs '
                             f'{int(np.prod(shape))}')
        arrays.append(data.reshape(shape))
    x, expected = arrays
    if not np.all(np.isfinite(expected)):
        raise ValueError('expected.bin holds NaN or infinite values')
    return meta, x, expected


def dims_text(value_info):
    dims = []
    for d in value_info.type.tensor_type.shape.dim:
        dims.append(d.dim_param if d.HasField('dim_param') else
                    str(d.dim_value) if d.HasField('dim_value') else '?')
    return '[' + ','.join(dims) + ']'


def check_onnx(model_path, meta):
    """onnx.checker with full_check, and the exporter contract. Returns (ok, text, model)."""
    model = onnx.load(model_path)
    try:
        onnx.checker.check_model(model, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as e:
        return False, f'check_model(full_check=True) rejects it: {" ".join(str(e).split())}', model
    problems = []
    opset = next((o.version for o in model.opset_import if o.domain in ('', 'ai.onnx')), None)
    if opset is None or opset < MIN_OPSET:
        problems.append(f'opset {opset}, not >= {MIN_OPSET}')
    initializers = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializers]
    outputs = list(model.graph.output)
    if len(inputs) != 1 or len(outputs) != 1:
        return False, (f'{len(inputs)} inputs and {len(outputs)} outputs; one of each is '
                       'expected'), model
    dynamic = ''
    for role, vi, shape in (('input', inputs[0], meta['input_shape']),
                            ('output', outputs[0], meta['output_shape'])):
        tt = vi.type.tensor_type
        if tt.elem_type != onnx.TensorProto.FLOAT:
            problems.append(f'{role} \'{vi.name}\' is '
                            f'{onnx.TensorProto.DataType.Name(tt.elem_type)}, not FLOAT')
        dims = list(tt.shape.dim)
        if len(dims) != len(shape):
            problems.append(f'{role} \'{vi.name}\' {dims_text(vi)} has rank {len(dims)}; '
                            f'meta.json says {shape}')
            continue
        if dims[0].HasField('dim_value'):
            problems.append(f'{role} \'{vi.name}\' {dims_text(vi)}: the batch dimension is '
                            f'static ({dims[0].dim_value}), not a dim_param')
        elif role == 'input':
            dynamic = dims[0].dim_param or '(unnamed)'
        for i, (d, want) in enumerate(zip(dims[1:], shape[1:]), 1):
            if d.HasField('dim_value') and d.dim_value != want:
                problems.append(f'{role} \'{vi.name}\' {dims_text(vi)}: dimension {i} is '
                                f'{d.dim_value}; meta.json says {want}')
    if problems:
        return False, '; '.join(problems), model
    return True, (f'full check passed; opset {opset}, IR {model.ir_version}, '
                  f'input \'{inputs[0].name}\' {dims_text(inputs[0])} '
                  f'(batch dim dynamic: \'{dynamic}\'), output \'{outputs[0].name}\' '
                  f'{dims_text(outputs[0])}, {len(model.graph.node)} nodes'), model


def compare(out, expected, argmax, tolerance):
    """Returns (ok, text) for a runtime's outputs against expected.bin."""
    n = expected.shape[0]
    if out.size != expected.size:
        return False, (f'output has {out.size} values, expected {expected.size} '
                       f'{list(expected.shape)}')
    out = out.reshape(expected.shape)
    if not np.all(np.isfinite(out)):
        bad = int(np.argwhere(~np.isfinite(out.reshape(n, -1)))[0][0])
        return False, f'{n} rows, output holds NaN or infinite values (first in row {bad})'
    diff = np.abs(out.astype(np.float64) - expected.astype(np.float64))
    scale = float(np.abs(expected).max())
    rel = float(diff.max()) / scale if scale > 0 else float(diff.max())
    ok = rel <= tolerance
    text = f'{n} rows, max rel diff {rel:.1e}'
    if not ok:
        row = int(np.unravel_index(np.argmax(diff), diff.shape)[0])
        def head(a):
            return np.array2string(a[row].ravel()[:10], precision=6, max_line_width=10**6)
        text += f' > {tolerance:g} (worst row {row}: got {head(out)}, expected {head(expected)})'
    if argmax:
        a, b = out.reshape(n, -1).argmax(axis=1), expected.reshape(n, -1).argmax(axis=1)
        same = int((a == b).sum())
        text += f', argmax {same}/{n} identical'
        if same != n:
            ok = False
            rows = np.flatnonzero(a != b)
            text += f' (first differing rows {rows[:5].tolist()})'
    return ok, text


def opencv_node_of_layer(model, layer_name):
    """The ONNX node ('name' (Op)) an OpenCV layer name like 'onnx_node!dense/Gemm' came from
    (OpenCV names a node's layer after the node, or its first output, and may append '/...'
    for helper layers)."""
    base = layer_name.split('!', 1)[-1]
    while base:
        for node in model.graph.node:
            if node.name == base or base in node.output:
                return f'node \'{node.name or node.output[0]}\' ({node.op_type})'
        base = base.rpartition('/')[0]
    return f'layer \'{layer_name}\''


def locate_opencv_forward_failure(model_path, model, x1):
    """Forwards up to each OpenCV layer in turn; names the first layer that fails."""
    try:
        net = cv2.dnn.readNetFromONNX(model_path)
        net.enableFusion(False)
        for name in net.getLayerNames():
            net.setInput(x1)
            try:
                net.forward(name)
            except cv2.error:
                return (f'{opencv_node_of_layer(model, name)}, OpenCV layer \'{name}\' '
                        f'({net.getLayer(name).type})')
    except cv2.error:
        pass
    return 'a node OpenCV did not name'


def cv_error_text(e):
    lines = [ln.strip(' >') for ln in str(e).strip().splitlines() if ln.strip(' >')]
    return ' '.join(lines[-1:])[:400]


def run_opencv(model_path, model, x, batch):
    """Returns ('ok', output, seconds), or ('unsupported' or 'wrong', message, None)."""
    try:
        net = cv2.dnn.readNetFromONNX(model_path)
    except cv2.error as e:
        m = re.search(r'Node \[([^@\]]+)@[^\]]*\]:\(([^)]*)\) parse error: (.*)', str(e), re.S)
        if m:
            op, node, why = m.group(1), m.group(2).replace('onnx_node!', ''), m.group(3)
            return 'unsupported', (f'cannot import node \'{node}\' ({op}): '
                                   f'{cv_error_text(why)}'), None
        return 'unsupported', f'cannot import the model: {cv_error_text(e)}', None
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
    outs = []
    start = time.perf_counter()
    for i in range(0, x.shape[0], batch):
        xb = np.ascontiguousarray(x[i:i + batch])
        try:
            net.setInput(xb)
            y = net.forward()
        except cv2.error as e:
            where = locate_opencv_forward_failure(model_path, model, x[:1])
            return 'unsupported', (f'cannot run {where} on a batch of {xb.shape[0]}: '
                                   f'{cv_error_text(e)}'), None
        if y.shape[0] != xb.shape[0]:
            # Not an unsupported op: OpenCV ran and gave something else, which fails.
            return 'wrong', (f'a batch of {xb.shape[0]} gave an output of shape '
                             f'{list(y.shape)}'), None
        outs.append(y.reshape(xb.shape[0], -1))
    return 'ok', np.concatenate(outs), time.perf_counter() - start


def run_onnxruntime(path, meta, batch, threads):
    """Returns (output or None, info dict or error text)."""
    with tempfile.TemporaryDirectory(prefix='gradway-onnx-check.') as tmp:
        out_path = os.path.join(tmp, 'onnxruntime.bin')
        cmd = ['node', ORT_RUN, os.path.join(path, 'model.onnx'), os.path.join(path, 'input.bin'),
               json.dumps(meta['input_shape']), out_path, f'--batch={batch}',
               f'--threads={threads}']
        try:
            p = subprocess.run(cmd, capture_output=True, text=True)
        except FileNotFoundError:
            return None, 'node is not on the PATH; run: bash third_party/install_onnxruntime.sh'
        if p.returncode != 0:
            # ort_run.js's own message (ONNX Runtime's log lines repeat it in colour).
            ours = p.stderr[p.stderr.find('ort_run.js: '):] if 'ort_run.js: ' in p.stderr else ''
            message = ours or p.stderr or p.stdout or f'ort_run.js exited with {p.returncode}'
            return None, ' '.join(message.split())
        info = json.loads(p.stdout.strip().splitlines()[-1])
        return np.fromfile(out_path, dtype='<f4'), info


def check_folder(path, args, report):
    name = os.path.basename(os.path.normpath(path))
    try:
        meta, x, expected = read_check_dir(path)
    except (OSError, ValueError) as e:
        report.line('FAIL', name, 'folder', f'{path}: {e}')
        return
    name = meta['name']
    model_path = os.path.join(path, 'model.onnx')

    ok, text, model = check_onnx(model_path, meta)
    report.line('PASS' if ok else 'FAIL', name, 'onnx.checker', text)

    status, result, seconds = run_opencv(model_path, model, x, args['batch'])
    gap = opencv_known_gap(meta)
    if status == 'unsupported' and gap is not None:
        report.line('SKIP', name, 'opencv', f'OpenCV {cv2.__version__} {result}; known: '
                    f'{gap}; checked by ONNX Runtime only')
    elif status == 'unsupported':
        report.line('FAIL' if args['require_opencv'] else 'SKIP', name, 'opencv',
                    f'OpenCV {cv2.__version__} {result}; '
                    + ('--require-opencv is set' if args['require_opencv']
                       else 'checked by ONNX Runtime only'))
    elif status == 'wrong':
        report.line('FAIL', name, 'opencv', f'OpenCV {cv2.__version__}: {result}')
    else:
        ok, text = compare(result, expected, meta['argmax'], args['tolerance'])
        report.line('PASS' if ok else 'FAIL', name, 'opencv',
                    f'{text} ({seconds:.2f} s, OpenCV {cv2.__version__})')

    out, info = run_onnxruntime(path, meta, args['batch'], args['threads'])
    if out is None:
        report.line('FAIL', name, 'onnxruntime', info)
        return
    ok, text = compare(out, expected, meta['argmax'], args['tolerance'])
    if info['output_shape'] != meta['output_shape'] and out.size == expected.size:
        ok = False
        text += f'; output shape {info["output_shape"]}, meta.json says {meta["output_shape"]}'
    report.line('PASS' if ok else 'FAIL', name, 'onnxruntime',
                f'{text} ({info["run_seconds"]:.2f} s, ONNX Runtime {info["onnxruntime"]})')


def main(argv):
    args = {'require_opencv': False, 'batch': 500, 'threads': 1, 'tolerance': 1e-5}
    dirs = []
    for arg in argv:
        m = re.fullmatch(r'--(batch|threads|tolerance)=(.+)', arg)
        try:
            if arg == '--require-opencv':
                args['require_opencv'] = True
            elif m and m.group(1) == 'tolerance':
                args['tolerance'] = float(m.group(2))
            elif m:
                args[m.group(1)] = int(m.group(2))
                if args[m.group(1)] < 1:
                    raise ValueError
            elif arg in ('-h', '--help'):
                print(__doc__)
                return 0
            elif arg.startswith('-'):
                raise ValueError
            else:
                dirs.append(arg)
        except ValueError:
            print(f'check.py: bad argument {arg}; see --help', file=sys.stderr)
            return 2
    if not dirs:
        print('usage: /usr/bin/python3 .ci/onnx/check.py [--require-opencv] [--batch=B] '
              '[--threads=T] [--tolerance=R] CHECK_DIR...', file=sys.stderr)
        return 2
    cv2.setNumThreads(args['threads'])

    report = Report()
    for d in dirs:
        check_folder(d, args, report)
    c = report.counts
    print(f'check.py: {len(dirs)} model(s); {c["PASS"]} checks passed, {c["FAIL"]} failed, '
          f'{c["SKIP"]} skipped (OpenCV cannot run the model; ONNX Runtime checked it)')
    return 1 if c['FAIL'] else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
