// Build ../static/editor.js (one minified IIFE, no source map) and
// ../static/editor.LICENSES.txt (the licence of every npm package inside the bundle).
// Run by `make editor` after `npm ci`; the same package-lock.json gives the same bytes.
import { build } from "esbuild";
import { readFileSync, writeFileSync, readdirSync, existsSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "static");

const result = await build({
  entryPoints: [join(here, "src", "editor.js")],
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2020"],
  legalComments: "none", // the licences go to editor.LICENSES.txt instead
  charset: "utf8",
  metafile: true,
  write: false,
  absWorkingDir: here,
});
const banner = "/* flowsim studio editor: CodeMirror 6 and its dependencies (MIT), built by `make editor`" +
  " from flowsim/studio/editor; licences in editor.LICENSES.txt */\n";
writeFileSync(join(out, "editor.js"), banner + result.outputFiles[0].text);

// The packages whose files went into the bundle, with their licence texts.
const packages = new Map();
for (const input of Object.keys(result.metafile.inputs)) {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
  if (m) packages.set(m[1], join(here, "node_modules", m[1]));
}
const parts = [];
for (const name of [...packages.keys()].sort()) {
  const dir = packages.get(name);
  const meta = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  const file = readdirSync(dir).filter((f) => /^licen[cs]e/i.test(f)).sort()[0];
  if (!file) throw new Error(`${name} has no licence file`);
  parts.push(`${"=".repeat(78)}\n${name}@${meta.version} (${meta.license})\n${"=".repeat(78)}\n\n` +
    readFileSync(join(dir, file), "utf8").trim() + "\n");
}
writeFileSync(join(out, "editor.LICENSES.txt"),
  "Licences of the npm packages bundled in editor.js (built by `make editor`).\n\n" + parts.join("\n"));
console.log(`editor.js: ${result.outputFiles[0].contents.length} bytes from ${packages.size} packages: ${[...packages.keys()].sort().join(", ")}`);
