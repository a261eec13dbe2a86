// Checks recorded API exchanges against Firecracker's Swagger 2.0 description.
// usage: node validate.mjs SPEC.yaml EXCHANGES.jsonl   (NODE_PATH: the validator's node_modules)
// Each line: {"method","path","status","req" (base64 body),"resp" (base64 body)}.
// A request mote accepted (2xx) must match the operation's body schema; every response must
// use a status the operation declares (or its default) and match that response's schema
// (no body where the spec declares none). Prints "ok N exchanges" or one line per problem.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';

const require = createRequire(path.join(process.env.NODE_PATH || '.', 'x.js'));
const SwaggerParser = require('@apidevtools/swagger-parser');
const Ajv = require('ajv');

const [specPath, exPath] = process.argv.slice(2);
const api = await SwaggerParser.dereference(specPath);
const ajv = new Ajv({ strict: false, validateFormats: false, allErrors: true });
const cache = new Map();
const check = (schema, value) => {
  let v = cache.get(schema);
  if (!v) { v = ajv.compile(schema); cache.set(schema, v); }
  return v(value) ? null : ajv.errorsText(v.errors);
};

const routes = Object.keys(api.paths).map((p) => ({
  p, re: new RegExp('^' + p.replace(/\{[^}]+\}/g, '[^/]+') + '$'),
}));
const problems = [];
const lines = fs.readFileSync(exPath, 'utf8').split('\n').filter(Boolean);
for (const [i, line] of lines.entries()) {
  const ex = JSON.parse(line);
  const where = `#${i + 1} ${ex.method} ${ex.path} -> ${ex.status}`;
  const route = routes.find((r) => r.re.test(ex.path.split('?')[0]));
  const op = route && api.paths[route.p][ex.method.toLowerCase()];
  const req = Buffer.from(ex.req || '', 'base64').toString();
  const resp = Buffer.from(ex.resp || '', 'base64').toString();
  if (!op) {
    // Not in the spec: mote must refuse it with a Firecracker error body.
    if (ex.status < 400) problems.push(`${where}: accepted an operation the spec lacks`);
    const e = check(api.definitions.Error, JSON.parse(resp || 'null'));
    if (e) problems.push(`${where}: error body: ${e}`);
    continue;
  }
  if (ex.status >= 200 && ex.status < 300) {
    const bodyParam = (op.parameters || []).find((p) => p.in === 'body');
    if (bodyParam) {
      let value;
      try { value = JSON.parse(req); } catch { problems.push(`${where}: accepted a non-JSON body`); continue; }
      const e = check(bodyParam.schema, value);
      if (e) problems.push(`${where}: accepted request body violates the spec: ${e}`);
    }
  }
  const r = op.responses[String(ex.status)] || op.responses.default;
  if (!r) { problems.push(`${where}: status not declared by the spec`); continue; }
  if (!r.schema) {
    if (resp.length) problems.push(`${where}: the spec declares no body, mote sent one`);
    continue;
  }
  let value;
  try { value = JSON.parse(resp); } catch { problems.push(`${where}: response is not JSON: ${resp.slice(0, 80)}`); continue; }
  const e = check(r.schema, value);
  if (e) problems.push(`${where}: response violates the spec: ${e}`);
}
if (problems.length) {
  for (const p of problems) console.log(p);
  process.exit(1);
}
console.log(`ok ${lines.length} exchanges`);
