// Compiles contracts/*.sol with solc-js (standard JSON, evmVersion cancun) and prints the
// ABI + creation bytecode of every contract as one JSON object on stdout. The Python side
// ships this output in the package (agentfm_nb/ogpu/devchain_contracts.json) with the hash of
// the sources; rebuild it with devchain.compile_contracts(out=CONTRACTS_FILE) after an edit.
"use strict";
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const dir = path.join(__dirname, "contracts");
const sources = {};
for (const name of fs.readdirSync(dir).sort()) {
  if (name.endsWith(".sol")) sources[name] = { content: fs.readFileSync(path.join(dir, name), "utf8") };
}
const input = {
  language: "Solidity",
  sources,
  settings: {
    evmVersion: "cancun",
    optimizer: { enabled: true, runs: 200 },
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
  },
};
const output = JSON.parse(solc.compile(JSON.stringify(input), { import: (p) => {
  const file = path.join(dir, path.basename(p));
  return fs.existsSync(file) ? { contents: fs.readFileSync(file, "utf8") } : { error: "not found: " + p };
} }));
const errors = (output.errors || []).filter((e) => e.severity === "error");
if (errors.length) {
  process.stderr.write(errors.map((e) => e.formattedMessage).join("\n"));
  process.exit(1);
}
const contracts = {};
for (const file of Object.keys(output.contracts)) {
  for (const [name, c] of Object.entries(output.contracts[file])) {
    contracts[name] = { abi: c.abi, bytecode: "0x" + c.evm.bytecode.object };
  }
}
process.stdout.write(JSON.stringify({ compiler: solc.version(), contracts }));
