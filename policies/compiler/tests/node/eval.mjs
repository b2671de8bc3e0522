// Evaluates a compiled policy module through OPA's own JavaScript SDK
// (@open-policy-agent/opa-wasm), exactly as a JS host would. Used by
// ../node_sdk.rs; also handy by hand:
//
//     node eval.mjs policy.wasm cases.json
//
// cases.json is one case or an array of cases, evaluated in order on ONE loaded
// policy instance (so `setData` is exercised between cases):
//
//     {"entrypoint": "crm/authz/decision", "data": {...}, "inputs": [{...}, ...],
//      "memory_min_pages": 7}                     // optional, see below
//
// stdout: for one case, a JSON array with one element per input: the result set
// `evaluate(input, entrypoint)` returned, or {"error": "..."} when it threw. For
// an array of cases, an array of such arrays.
// stderr: one line `eval.mjs meta {...}` (ABI minor version the SDK detected,
// entrypoints it read from the module, memory pages, timings in ms).
//
// Memory: the SDK creates the module's `env.memory` itself, by default with 5
// pages. A module may import memory with a larger minimum (ours do: the policy
// is a data segment), and instantiating then fails with a LinkError. The
// minimum (and maximum, if any) cannot be read through
// `WebAssembly.Module.imports` (no type reflection in Node), so it is read from
// the module's import section here and passed as `{initial, maximum}`. When the
// case file also states `memory_min_pages`, the two must agree.

import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { loadPolicy } from "@open-policy-agent/opa-wasm";

function fail(msg) {
  process.stderr.write(`eval.mjs: ${msg}\n`);
  process.exit(2);
}

/** Limits of the `env.memory` import: {min, max|null}, or null if there is none. */
function memoryImportLimits(bytes) {
  let pos = 0;
  const byte = () => {
    if (pos >= bytes.length) throw new Error("truncated module");
    return bytes[pos++];
  };
  const leb = () => {
    // unsigned LEB128, up to 64 bits (memory64 limits); exact via BigInt
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = byte();
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
      if (shift > 63n) throw new Error("LEB128 too long");
    }
  };
  const u32 = () => Number(leb());
  const name = () => {
    const len = u32();
    const s = new TextDecoder().decode(bytes.subarray(pos, pos + len));
    pos += len;
    return s;
  };
  const limits = () => {
    const flags = byte();
    const min = leb();
    const max = flags & 0x01 ? leb() : null;
    return { flags, min, max };
  };

  const magic = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  for (const b of magic) {
    if (byte() !== b) throw new Error("not a WebAssembly 1.0 module");
  }
  while (pos < bytes.length) {
    const id = byte();
    const size = u32();
    const end = pos + size;
    if (id !== 2) {
      pos = end;
      continue;
    }
    const count = u32();
    for (let i = 0; i < count; i++) {
      const module = name();
      const field = name();
      const kind = byte();
      switch (kind) {
        case 0x00: // function: type index
          u32();
          break;
        case 0x01: // table: reftype + limits
          byte();
          limits();
          break;
        case 0x02: { // memory: limits
          const l = limits();
          if (module === "env" && field === "memory") {
            if (l.flags & ~0x01) {
              throw new Error(`env.memory has unsupported limit flags 0x${l.flags.toString(16)} (shared/64-bit)`);
            }
            return { min: Number(l.min), max: l.max === null ? null : Number(l.max) };
          }
          break;
        }
        case 0x03: // global: valtype + mutability
          byte();
          byte();
          break;
        case 0x04: // tag: attribute + type index
          byte();
          u32();
          break;
        default:
          throw new Error(`unknown import kind 0x${kind.toString(16)}`);
      }
    }
    return null; // there is only one import section
  }
  return null;
}

const [modulePath, casesPath] = process.argv.slice(2);
if (!modulePath || !casesPath) fail("usage: node eval.mjs <module.wasm> <cases.json>");

const wasm = readFileSync(modulePath);
const parsedCases = JSON.parse(readFileSync(casesPath, "utf8"));
const single = !Array.isArray(parsedCases);
const cases = single ? [parsedCases] : parsedCases;

const limits = memoryImportLimits(new Uint8Array(wasm.buffer, wasm.byteOffset, wasm.byteLength));
if (limits === null) fail("the module does not import env.memory");
for (const c of cases) {
  if (c.memory_min_pages !== undefined && c.memory_min_pages !== limits.min) {
    fail(`case file says env.memory minimum is ${c.memory_min_pages} pages, the module says ${limits.min}`);
  }
}
const memoryDescriptor = { initial: limits.min };
if (limits.max !== null) memoryDescriptor.maximum = limits.max;

const t0 = performance.now();
const policy = await loadPolicy(wasm, memoryDescriptor);
const loadMs = performance.now() - t0;

const out = [];
const caseMs = [];
let evaluations = 0;
for (const c of cases) {
  const t = performance.now();
  if (c.data !== undefined) policy.setData(c.data);
  const results = [];
  for (const input of c.inputs) {
    try {
      results.push(policy.evaluate(input, c.entrypoint));
    } catch (e) {
      // opa_abort throws the abort message (a string); traps throw Errors
      results.push({ error: typeof e === "string" ? e : String(e && e.message !== undefined ? e.message : e) });
    }
    evaluations++;
  }
  caseMs.push(performance.now() - t);
  out.push(results);
}

const meta = {
  minorVersion: policy.minorVersion,
  entrypoints: policy.entrypoints,
  memory: { initial: limits.min, maximum: limits.max, final_pages: policy.mem.buffer.byteLength / 65536 },
  load_ms: loadMs,
  eval_ms: caseMs.reduce((a, b) => a + b, 0),
  evaluations,
  case_ms: caseMs,
};
process.stderr.write(`eval.mjs meta ${JSON.stringify(meta)}\n`);
process.stdout.write(JSON.stringify(single ? out[0] : out));
process.stdout.write("\n");
