// The npm the package build runs (pyproject.toml: hatch-jupyter-builder's `npm` option).
// The builder calls `<npm> install` then `<npm> run build`; `install` here is `npm ci`, which
// installs exactly the committed package-lock.json and never rewrites it, so `pip install -e .`
// leaves a clone's `git status` clean. node_modules already installed from this lockfile is
// kept (npm ci would delete and refetch it on every editable reinstall).
import { spawnSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const win = process.platform === "win32";
const args = process.argv.slice(2);

function npm(argv) {
  const r = spawnSync(win ? "npm.cmd" : "npm", argv, { cwd: root, stdio: "inherit", shell: win });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

function installedFromLock() {
  const lock = join(root, "package-lock.json");
  const marker = join(root, "node_modules", ".package-lock.json"); // written by npm ci/install
  return existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs;
}

if (args[0] === "install") {
  process.exit(installedFromLock() ? 0 : npm(["ci", "--no-audit", "--no-fund"]));
}
process.exit(npm(args));
