// AgentConsole view: the OpenGPU agent's address, its authorizations, the live chain feed,
// its own transactions, and a register / attempt / unregister form with a confirmation step.
// The model never carries the private key: only the address is shown.
import { BASE_CSS, containKeys, h, styleInto } from "../shared/dom";

const CSS = `
.afm-ac .afm-ac-addr { font-family: var(--jp-code-font-family, monospace); }
.afm-ac table { border-collapse: collapse; width: 100%; margin: 4px 0; }
.afm-ac td, .afm-ac th { border-bottom: 1px solid var(--afm-border); padding: 1px 6px; text-align: left;
  font-family: var(--jp-code-font-family, monospace); font-size: 11px; white-space: nowrap; }
.afm-ac .afm-ac-feed { max-height: 200px; overflow: auto; }
.afm-ac tr.ok td:first-child, .afm-ac tr.bad td:first-child, .afm-ac tr.wait td:first-child { border-left: 4px solid var(--afm-border); }
.afm-ac tr.ok td:first-child { border-left-color: var(--afm-ok); }
.afm-ac tr.bad td:first-child { border-left-color: var(--afm-err); }
.afm-ac tr.wait td:first-child { border-left-color: var(--afm-warn); }
.afm-ac fieldset { border: 1px solid var(--afm-border); border-radius: 3px; margin: 4px 0; }
`;

const FIELDS: Record<string, string[]> = {
  register: ["source", "provider", "env"],
  attempt: ["task", "provider", "suggested_payment"],
  unregister: ["source", "provider"],
};

// biome-ignore lint: anywidget model typing is structural
type Model = any;
type Row = Record<string, unknown>;

const short = (v: unknown): string => {
  const s = String(v ?? "");
  return /^0x[0-9a-fA-F]{40,}$/.test(s) ? `${s.slice(0, 8)}…${s.slice(-4)}` : s;
};

function table(head: string[], rows: string[][], classes: (string | null)[] = []): HTMLTableElement {
  return h(
    "table",
    {},
    h("tr", {}, ...head.map((c) => h("th", { scope: "col", text: c }))),
    ...rows.map((r, i) => h("tr", { class: classes[i] ?? null }, ...r.map((c) => h("td", { text: c })))),
  );
}

function eventSummary(e: Row): string {
  const skip = new Set(["name", "contract", "block_number", "tx_hash", "log_index", "timestamp"]);
  return Object.entries(e)
    .filter(([k]) => !skip.has(k))
    .map(([k, v]) => `${k}=${short(v)}`)
    .join(" ");
}

function render({ model, el }: { model: Model; el: HTMLElement }): () => void {
  const title = h("div", { class: "afm-bar" });
  const err = h("div", { class: "afm-banner err", role: "alert", style: "display:none" });
  const auth = h("div");
  const feed = h("div", { class: "afm-ac-feed", tabindex: 0, "aria-label": "chain events" });
  const txs = h("div");
  const action = h("select", { "aria-label": "action" }, ...Object.keys(FIELDS).map((a) => h("option", { value: a, text: a })));
  const inputs = h("span", { class: "afm-bar" });
  const review = h("button", { type: "button", text: "Review" });
  const confirmBox = h("div", { class: "afm-banner info", style: "display:none" });
  const form = h("fieldset", {}, h("legend", { text: "send as agent" }), h("div", { class: "afm-bar" }, action, inputs, review), confirmBox);
  const root = h("div", { class: "afm afm-ac", role: "region", "aria-label": "OpenGPU agent console" }, title, err, auth, form, h("b", { text: "chain events" }), feed, h("b", { text: "my transactions" }), txs);
  styleInto(el, BASE_CSS, CSS);
  el.append(root);
  const releaseKeys = containKeys(root);

  const values: Record<string, HTMLInputElement> = {};
  function paintForm(): void {
    const fields = FIELDS[action.value] ?? [];
    inputs.replaceChildren(
      ...fields.map((f) => {
        values[f] ??= h("input", { type: "text", placeholder: f, size: f === "env" ? 10 : 24, "aria-label": f });
        return values[f] as HTMLInputElement;
      }),
    );
  }
  action.addEventListener("change", paintForm);
  review.addEventListener("click", () => {
    const args: Record<string, string> = {};
    for (const f of FIELDS[action.value] ?? []) args[f] = values[f]?.value.trim() ?? "";
    model.send({ kind: "prepare", action: action.value, args });
  });

  function paint(): void {
    const chain: Row = model.get("chain") ?? {};
    title.replaceChildren(
      h("b", { text: "OpenGPU agent " }),
      h("span", { class: "afm-ac-addr", text: String(model.get("address") ?? "") }),
      h("span", { class: "afm-muted", text: ` · ${chain.name ?? "?"} (chain ${chain.chain_id ?? "?"}) · ${model.get("following") ? "following" : "not following"}` }),
    );
    const error = String(model.get("error") ?? "");
    err.style.display = error ? "" : "none";
    err.textContent = error;
    const principals: Row[] = model.get("principals") ?? [];
    auth.replaceChildren(
      principals.length
        ? table(
            ["principal", "isAgentOf"],
            principals.map((p) => [String(p.address), p.authorized == null ? "?" : p.authorized ? "yes" : "no"]),
            principals.map((p) => (p.authorized ? "ok" : "bad")),
          )
        : h("div", { class: "afm-muted", text: "no principals configured" }),
    );
    const events: Row[] = model.get("events") ?? [];
    feed.replaceChildren(table(["block", "event", "details"], events.map((e) => [String(e.block_number), String(e.name), eventSummary(e)])));
    const rows: Row[] = model.get("txs") ?? [];
    txs.replaceChildren(
      table(
        ["call", "tx", "nonce", "state", "block", "gas"],
        rows.map((t) => [String(t.function), short(t.tx_hash), String(t.nonce), String(t.state), String(t.block_number ?? "–"), String(t.gas_used ?? "–")]),
        rows.map((t) => (t.state === "mined" ? "ok" : t.state === "pending" ? "wait" : "bad")),
      ),
    );
    const pending: Row = model.get("pending") ?? {};
    if (pending.id) {
      const yes = h("button", { text: "Confirm & send" });
      const no = h("button", { text: "Cancel" });
      yes.addEventListener("click", () => model.send({ kind: "confirm", id: pending.id }));
      no.addEventListener("click", () => model.send({ kind: "cancel" }));
      confirmBox.replaceChildren(h("span", { text: String(pending.summary ?? "") }), " ", yes, " ", no);
      confirmBox.style.display = "";
    } else {
      confirmBox.style.display = "none";
    }
  }
  const names = ["address", "chain", "principals", "events", "txs", "pending", "error", "following"];
  for (const n of names) model.on(`change:${n}`, paint);
  paintForm();
  paint();
  return () => {
    releaseKeys();
    for (const n of names) model.off(`change:${n}`, paint);
  };
}

export default { render };
