// Bundles every js/widgets/*.ts (or .js) entry as one ESM file in agentfm_nb/static/, and copies
// the three files an exported HTML page needs to render saved widgets offline into
// agentfm_nb/static/export/ (require.js, the html-manager's embed-amd.js, anywidget's AMD module).
import { build } from "esbuild";
import { copyFileSync, existsSync, mkdirSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const outdir = join(root, "agentfm_nb", "static");
const widgetsDir = join(root, "js", "widgets");
const require = createRequire(join(root, "package.json"));

// Some packages do not export their package.json, so locate the package folder from any
// resolvable entry (or the hoisted node_modules folder).
function pkgFile(pkg, file) {
  const hoisted = join(root, "node_modules", pkg, file);
  if (existsSync(hoisted)) return hoisted;
  let dir = dirname(require.resolve(pkg));
  while (!existsSync(join(dir, "package.json")) && dirname(dir) !== dir) dir = dirname(dir);
  return join(dir, file);
}

const entryPoints = readdirSync(widgetsDir)
  .filter((f) => /\.(ts|js)$/.test(f) && !/\.(test|spec|d)\.(ts|js)$/.test(f))
  .map((f) => join(widgetsDir, f));

mkdirSync(join(outdir, "export"), { recursive: true });

await build({
  entryPoints,
  outdir,
  bundle: true,
  format: "esm",
  target: "es2020",
  minify: process.env.AGENTFM_NB_DEV !== "1",
  sourcemap: false,
  legalComments: "none",
  logLevel: "warning",
});

// The html-manager asks require.js for the module "anywidget" relative to the page first; the
// npm package's dist/index.js is already an anonymous AMD define() that needs only
// @jupyter-widgets/base, which embed-amd.js defines.
const copies = [
  [pkgFile("requirejs", "require.js"), "require.js"],
  [pkgFile("@jupyter-widgets/html-manager", "dist/embed-amd.js"), "embed-amd.js"],
  [pkgFile("anywidget", "dist/index.js"), "anywidget.js"],
];
for (const [src, name] of copies) {
  if (!existsSync(src)) throw new Error(`build: missing ${src} (run npm ci)`);
  copyFileSync(src, join(outdir, "export", name));
}
console.log(`built ${entryPoints.length} widget bundle(s) into ${outdir}`);
