// Evaluates a compiled policy module through OPA's own JavaScript SDK
// (@open-policy-agent/opa-wasm), exactly as a JS host would. Used by
// ../node_sdk.rs; also handy by hand:
//
//     node eval.mjs policy.wasm cases.json
//
// cases.json is one case or an array of cases, evaluated in order on ONE loaded
// policy instance (so `setData` is exercised between cases):
//
//     {"entrypoint": "crm/authz/decision", "data": {...}, "inputs": [{...}, ...]}
//
// stdout: for one case, a JSON array with one element per input: the result set
// `evaluate(input, entrypoint)` returned, or {"error": "..."} when it threw. For
// an array of cases, an array of such arrays.
// stderr: one line `eval.mjs meta {...}` (ABI minor version the SDK detected,
// entrypoints it read from the module, memory pages, timings in ms).
//
// Memory: the policy is loaded as a JS host would by default, with no memory
// descriptor, so the SDK creates `env.memory` with its default 5 pages; a module
// that declares a larger minimum fails to load here.

import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { loadPolicy } from "@open-policy-agent/opa-wasm";

function fail(msg) {
  process.stderr.write(`eval.mjs: ${msg}\n`);
  process.exit(2);
}

const [modulePath, casesPath] = process.argv.slice(2);
if (!modulePath || !casesPath) fail("usage: node eval.mjs <module.wasm> <cases.json>");

const wasm = readFileSync(modulePath);
const parsedCases = JSON.parse(readFileSync(casesPath, "utf8"));
const single = !Array.isArray(parsedCases);
const cases = single ? [parsedCases] : parsedCases;

const t0 = performance.now();
const policy = await loadPolicy(wasm);
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
  memory_pages: policy.mem.buffer.byteLength / 65536,
  load_ms: loadMs,
  eval_ms: caseMs.reduce((a, b) => a + b, 0),
  evaluations,
  case_ms: caseMs,
};
process.stderr.write(`eval.mjs meta ${JSON.stringify(meta)}\n`);
process.stdout.write(JSON.stringify(single ? out[0] : out));
process.stdout.write("\n");
