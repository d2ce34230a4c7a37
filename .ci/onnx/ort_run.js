// Runs an ONNX model in ONNX Runtime (npm onnxruntime-node, CPU execution provider) on
// float32 inputs read from a file and writes its float32 outputs; .ci/onnx/check.py calls
// it to check models exported by gradway in a runtime gradway did not write.
//
//   node .ci/onnx/ort_run.js MODEL.onnx INPUT.bin INPUT_SHAPE_JSON OUTPUT.bin [options]
//   node .ci/onnx/ort_run.js CHECK_DIR OUTPUT.bin [options]
//
// INPUT.bin: float32, little-endian, row-major, of shape INPUT_SHAPE_JSON (for example
// '[10000,28,28,1]'; the first dimension is the number of samples N). CHECK_DIR is a check
// folder as .ci/onnx/check.py describes (model.onnx, input.bin, meta.json's input_shape).
// The model must have one float32 input whose first dimension is the batch and one
// float32 output. The samples run in batches (the last one may be smaller), and the
// outputs of all batches are written to OUTPUT.bin as float32 LE, row-major [N, ...].
// Options:
//   --batch=B     samples per run (default 500)
//   --threads=T   ONNX Runtime's intra-op threads (default 1: one thread, deterministic)
// Prints one line of JSON on stdout: the output shape, rows, and seconds to load and run.
//
// onnxruntime-node comes from bash third_party/install_onnxruntime.sh, which installs it
// in ${XDG_CACHE_HOME:-$HOME/.cache}/gradway/onnxruntime/node_modules; it is required
// from there by absolute path (no node project, no NODE_PATH).
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');

const ORT_VERSION = '1.20.1';

function fail(message) {
  process.stderr.write(`ort_run.js: ${message}\n`);
  process.exit(1);
}

// The folder third_party/install_onnxruntime.sh installs into, by the same rules:
// $XDG_CACHE_HOME when it is an absolute path, else $HOME/.cache, else the home folder in
// the password database.
function onnxruntimeDir() {
  const xdg = process.env.XDG_CACHE_HOME || '';
  const home = process.env.HOME || os.userInfo().homedir;
  const cache = xdg.startsWith('/') ? xdg : path.join(home, '.cache');
  return path.join(cache, 'gradway', 'onnxruntime');
}

function loadOrt() {
  const dir = path.join(onnxruntimeDir(), 'node_modules', 'onnxruntime-node');
  if (!fs.existsSync(path.join(dir, 'package.json'))) {
    fail(`ONNX Runtime for Node.js is not installed in ${dir}; ` +
         'run: bash third_party/install_onnxruntime.sh');
  }
  const version = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version;
  if (version !== ORT_VERSION) {
    fail(`${dir} holds onnxruntime-node ${version}, not ${ORT_VERSION}; ` +
         'run: bash third_party/install_onnxruntime.sh');
  }
  return require(dir);
}

function parseArgs(argv) {
  const options = {batch: 500, threads: 1};
  const positional = [];
  for (const arg of argv) {
    const m = /^--(batch|threads)=(\d+)$/.exec(arg);
    if (m) {
      options[m[1]] = Number(m[2]);
    } else if (arg.startsWith('--')) {
      fail(`unknown option ${arg}`);
    } else {
      positional.push(arg);
    }
  }
  if (!(options.batch >= 1) || !(options.threads >= 1)) fail('--batch and --threads must be >= 1');
  let model, input, shape, output;
  if (positional.length === 2) {
    const dir = positional[0];
    const meta = JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8'));
    [model, input, shape, output] =
        [path.join(dir, 'model.onnx'), path.join(dir, 'input.bin'), meta.input_shape,
         positional[1]];
  } else if (positional.length === 4) {
    [model, input, output] = [positional[0], positional[1], positional[3]];
    try {
      shape = JSON.parse(positional[2]);
    } catch (e) {
      fail(`INPUT_SHAPE_JSON is not JSON: ${positional[2]}`);
    }
  } else {
    fail('usage: node ort_run.js MODEL.onnx INPUT.bin INPUT_SHAPE_JSON OUTPUT.bin [--batch=B] ' +
         '[--threads=T]\n   or: node ort_run.js CHECK_DIR OUTPUT.bin [--batch=B] [--threads=T]');
  }
  if (!Array.isArray(shape) || shape.length < 2 ||
      !shape.every((d) => Number.isInteger(d) && d >= 1)) {
    fail('the input shape must be a list of two or more positive integers, not ' +
         JSON.stringify(shape));
  }
  return {model, input, shape, output, options};
}

async function main() {
  if (os.endianness() !== 'LE') fail('this script reads and writes little-endian floats natively');
  const {model, input, shape, output, options} = parseArgs(process.argv.slice(2));
  const ort = loadOrt();

  const n = shape[0];
  const rowSize = shape.slice(1).reduce((a, b) => a * b, 1);
  const bytes = fs.readFileSync(input);
  if (bytes.length !== n * rowSize * 4) {
    fail(`${input} holds ${bytes.length} bytes; shape ${JSON.stringify(shape)} needs ` +
         `${n * rowSize * 4} (float32)`);
  }
  // A Float32Array view needs 4-byte alignment; copy when the Buffer is not aligned.
  const x = bytes.byteOffset % 4 === 0 ?
      new Float32Array(bytes.buffer, bytes.byteOffset, n * rowSize) :
      new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));

  const t0 = process.hrtime.bigint();
  const session = await ort.InferenceSession.create(model, {
    executionProviders: ['cpu'],
    intraOpNumThreads: options.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,  // errors only
  });
  if (session.inputNames.length !== 1 || session.outputNames.length !== 1) {
    fail(`${model} has inputs [${session.inputNames}] and outputs [${session.outputNames}]; ` +
         'one of each is expected');
  }
  const [inputName, outputName] = [session.inputNames[0], session.outputNames[0]];
  const t1 = process.hrtime.bigint();

  const chunks = [];
  let outDims = null;
  for (let start = 0; start < n; start += options.batch) {
    const b = Math.min(options.batch, n - start);
    const tensor = new ort.Tensor('float32', x.subarray(start * rowSize, (start + b) * rowSize),
                                  [b, ...shape.slice(1)]);
    const result = (await session.run({[inputName]: tensor}))[outputName];
    if (result.type !== 'float32') fail(`output '${outputName}' is ${result.type}, not float32`);
    if (result.dims[0] !== b) {
      fail(`a batch of ${b} gave output '${outputName}' of shape [${result.dims}]`);
    }
    const dims = result.dims.slice(1);
    if (outDims === null) {
      outDims = dims;
    } else if (dims.join() !== outDims.join()) {
      fail(`output shape changed between batches: [${outDims}] then [${dims}]`);
    }
    const data = result.data;
    chunks.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  }
  const t2 = process.hrtime.bigint();
  fs.writeFileSync(output, Buffer.concat(chunks));
  await session.release();

  console.log(JSON.stringify({
    onnxruntime: ort.env.versions.node,
    input: inputName,
    output: outputName,
    output_shape: [n, ...outDims],
    rows: n,
    batch: options.batch,
    threads: options.threads,
    load_seconds: Number(t1 - t0) / 1e9,
    run_seconds: Number(t2 - t1) / 1e9,
  }));
}

// ONNX Runtime's errors say what is wrong in their message; a stack trace only for others.
main().catch((e) => fail(e instanceof Error && e.message ? e.message : String(e)));
