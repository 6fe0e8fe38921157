// `make web`: bundles the pages' scripts and stylesheet from web/src into web/dist (git-ignored)
// with esbuild, every file named by its content hash, and writes web/dist/manifest.json
// (entry name → built file) that the server reads to link them. Nothing is fetched at run time.
import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = path.dirname(fileURLToPath(import.meta.url));
const outdir = path.join(here, "dist");
const entries = ["tool.js", "login.js", "autopost.js", "registered.js", "styles.css"];

await rm(outdir, { recursive: true, force: true });
await mkdir(outdir, { recursive: true });
const result = await esbuild.build({
  entryPoints: entries.map((entry) => path.join(here, "src", entry)),
  outdir,
  bundle: true,
  minify: true,
  format: "esm",
  target: ["es2020", "chrome100", "firefox100", "safari15"],
  entryNames: "[name]-[hash]",
  assetNames: "[name]-[hash]",
  sourcemap: "linked",
  metafile: true,
  logLevel: "warning",
});

const manifest = {};
for (const [output, meta] of Object.entries(result.metafile.outputs)) {
  if (meta.entryPoint && !output.endsWith(".map")) manifest[path.basename(meta.entryPoint)] = path.basename(output);
}
const missing = entries.filter((entry) => !manifest[entry]);
if (missing.length) throw new Error(`esbuild produced no output for ${missing.join(", ")}`);
await writeFile(path.join(outdir, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
console.log(`web: built ${Object.values(manifest).join(", ")}`);
