// `make web`: bundles the pages' scripts and stylesheet from web/src into web/dist (git-ignored)
// with esbuild, every file named by its content hash, and writes web/dist/manifest.json that
// the server reads: {"entries": {source name → built file}, "files": [every file esbuild wrote]}.
// "entries" names the entry points and the modules loaded with `import()` (player.js, upload.js).
// Code splitting (ESM, `splitting: true`): what a page reaches through `import()` (the uploader
// with Uppy, the player with hls.js) is a chunk of its own, fetched only when the page needs it;
// code two entries share is a chunk too. Nothing is fetched at run time from anywhere else.
import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = path.dirname(fileURLToPath(import.meta.url));
// WEB_OUTDIR and WEB_SPLITTING=0 exist for bench/pages.py, which builds the single-bundle
// layout of before code splitting into a scratch folder to report both side by side.
const outdir = process.env.WEB_OUTDIR || path.join(here, "dist");
const splitting = process.env.WEB_SPLITTING !== "0";
const entries = ["tool.js", "login.js", "autopost.js", "registered.js", "styles.css"];

await rm(outdir, { recursive: true, force: true });
await mkdir(outdir, { recursive: true });
const result = await esbuild.build({
  entryPoints: entries.map((entry) => path.join(here, "src", entry)),
  outdir,
  bundle: true,
  splitting,
  minify: true,
  format: "esm",
  target: ["es2020", "chrome100", "firefox100", "safari15"],
  entryNames: "[name]-[hash]",
  chunkNames: "[name]-[hash]",
  assetNames: "[name]-[hash]",
  sourcemap: "linked",
  metafile: true,
  logLevel: "warning",
});

const manifest = { entries: {}, files: [] };
for (const [output, meta] of Object.entries(result.metafile.outputs)) {
  manifest.files.push(path.basename(output));
  if (meta.entryPoint && !output.endsWith(".map")) manifest.entries[path.basename(meta.entryPoint)] = path.basename(output);
}
manifest.files.sort();
const missing = entries.filter((entry) => !manifest.entries[entry]);
if (missing.length) throw new Error(`esbuild produced no output for ${missing.join(", ")}`);
await writeFile(path.join(outdir, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
const chunks = manifest.files.filter((name) => name.startsWith("chunk-") && !name.endsWith(".map"));
console.log(`web: built ${Object.values(manifest.entries).join(", ")} and ${chunks.length} chunks`);
