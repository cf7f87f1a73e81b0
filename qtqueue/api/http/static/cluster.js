/* qtqueue admin page on a cluster (`qtqueue run --redis URL --http ADDR`): what the server says
 * it serves (given inside the HTML), what the page leaves out there, and the Workers table.
 *
 * - ENGINE: {kind: "local"} or {kind: "cluster", server, live, unsupported: [verbs]}.
 * - Without a live event stream the page reads the cluster again every POLL_MS and says so.
 * - Worker text reaches the page through textContent only.
 */
import { $, el, setText } from "./util.js";

export const ENGINE = JSON.parse(document.getElementById("qtqueue-engine").textContent);
export const IS_CLUSTER = ENGINE.kind === "cluster";
/* How often a cluster without live events is read again. */
export const POLL_MS = 5000;

const UNSUPPORTED = new Set(ENGINE.unsupported || []);

/* Whether the page offers `verb` (an action, or "dispatch": pausing the whole queue). */
export function offers(verb) {
  return !UNSUPPORTED.has(verb);
}

/* The note above the statistics, and the Workers section: shown on a cluster only. */
export function showClusterParts() {
  if (!IS_CLUSTER) return;
  document.title = `qtqueue — cluster ${ENGINE.server}`;
  setText(document.querySelector(".subtitle"), `cluster ${ENGINE.server}`);
  const missing = [];
  if (!offers("approve")) missing.push("approval");
  if (!offers("dispatch")) missing.push("pausing the whole queue (suspend workers instead)");
  if (!ENGINE.live) missing.push(`live events (read again every ${POLL_MS / 1000} s)`);
  const note = $("cluster-note");
  note.textContent =
    `Serving the cluster's Redis at ${ENGINE.server}: its workers run the tasks. ` +
    (missing.length ? `Not available on a cluster: ${missing.join("; ")}.` : "");
  note.hidden = false;
  $("workers-section").hidden = false;
}

/* The Workers table from GET /workers (the cluster's `workers` action). */
export async function loadWorkers(api) {
  if (!IS_CLUSTER) return;
  const reply = await api("/workers");
  const slots = reply.slots || [];
  $("worker-rows").replaceChildren(...slots.map(workerRow));
  $("workers-empty").hidden = slots.length > 0;
  setText(
    $("workers-summary"),
    `${reply.total} live · ${reply.busy} busy · ${reply.idle} idle · ${reply.suspended} suspended`,
  );
}

function workerRow(w) {
  const current = w.task_id ? `${w.task_name || w.task_id}` : "—";
  return el(
    "tr",
    { "data-worker": w.worker },
    el("td", { class: "name", text: w.worker }),
    el("td", { text: w.host || "—" }),
    el("td", {}, el("span", { class: "worker-state", "data-state": w.state, text: w.state })),
    el("td", { text: current, title: w.task_id || "" }),
    el("td", { class: "count", text: String(w.successful_jobs ?? 0) }),
    el("td", { class: "count", text: String(w.failed_jobs ?? 0) }),
  );
}
