// Build the console's page: src/ -> ../receiver/console/static/{app.js, app.css}, minified,
// plus the licences of the bundled packages (app.licenses.txt) and bundle.json, which
// records the hash of the sources the bundle was built from (tests/console/test_bundle.py
// checks both). `npm ci && npm run build` reproduces the committed files byte for byte.
//
//   node build.mjs [--outdir DIR]

import { createHash } from "node:crypto";
import { readFileSync, readdirSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const at = args.indexOf("--outdir");
const outdir = at >= 0 ? args[at + 1] : join(here, "..", "receiver", "console", "static");
mkdirSync(outdir, { recursive: true });

/** The files the bundle is made from, sorted: what sourcesHash covers. */
function sources() {
  const out = ["build.mjs", "package.json", "package-lock.json"];
  const walk = (dir) => {
    for (const entry of readdirSync(join(here, dir), { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(path);
      else out.push(path);
    }
  };
  walk("src");
  return out.sort();
}

/** sha256 over "PATH\nLENGTH\n" + bytes for each source file in order (see test_bundle.py). */
function sourcesHash() {
  const hash = createHash("sha256");
  for (const path of sources()) {
    const bytes = readFileSync(join(here, path));
    hash.update(`${path}\n${bytes.length}\n`);
    hash.update(bytes);
  }
  return hash.digest("hex");
}

const sha256 = (bytes) => createHash("sha256").update(bytes).digest("hex");

const common = {
  bundle: true,
  minify: true,
  write: false,
  metafile: true,
  legalComments: "none", // the licences go to app.licenses.txt instead
  charset: "utf8",
  logLevel: "warning",
  absWorkingDir: here,
};

const js = await esbuild.build({
  ...common,
  entryPoints: ["src/main.js"],
  outfile: "app.js",
  format: "iife",
  target: ["es2020", "chrome100", "firefox100", "safari15"],
});
const css = await esbuild.build({
  ...common,
  entryPoints: ["src/app.css"],
  outfile: "app.css",
  target: ["chrome100", "firefox100", "safari15"],
});

// The npm packages inside the bundle, with their licences.
const packages = new Map();
for (const input of Object.keys(js.metafile.inputs)) {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input.split(sep).join("/"));
  if (!m || packages.has(m[1])) continue;
  const meta = JSON.parse(readFileSync(join(here, "node_modules", m[1], "package.json"), "utf8"));
  packages.set(m[1], meta);
}
const licences = [...packages.keys()].sort().map((name) => {
  const meta = packages.get(name);
  const dir = join(here, "node_modules", name);
  const file = readdirSync(dir).sort().find((f) => /^licen[cs]e/i.test(f));
  const text = file ? readFileSync(join(dir, file), "utf8").trim() : `License: ${meta.license}`;
  return `== ${name} ${meta.version} (${meta.license})\n\n${text}\n`;
});

const files = {
  "app.js": js.outputFiles[0].contents,
  "app.css": css.outputFiles[0].contents,
  "app.licenses.txt": Buffer.from(
    "The console's app.js bundles these npm packages (built by console/build.mjs):\n\n" + licences.join("\n"),
  ),
};
for (const [name, bytes] of Object.entries(files)) writeFileSync(join(outdir, name), bytes);

const record = {
  built_by: "console/build.mjs (npm ci && npm run build)",
  esbuild: esbuild.version,
  sources_sha256: sourcesHash(),
  files: Object.fromEntries(Object.entries(files).map(([name, bytes]) => [name, sha256(bytes)])),
  packages: Object.fromEntries([...packages.keys()].sort().map((n) => [n, packages.get(n).version])),
};
writeFileSync(join(outdir, "bundle.json"), JSON.stringify(record, null, 2) + "\n");
const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
console.log(`app.js ${kib(files["app.js"].length)}, app.css ${kib(files["app.css"].length)} -> ${relative(process.cwd(), outdir) || "."}`);
