/* qtqueue admin page: the task list of one engine, kept current by its event stream.
 *
 * - The API key is asked once, kept in this tab's sessionStorage only, and sent with every
 *   fetch() as `Authorization: Bearer KEY` — never in a URL, a query or a cookie. A 401 brings
 *   the key form back with the server's message.
 * - Live: `GET /events` read through fetch() and a ReadableStream (sse.js); reconnects with
 *   backoff; the list is read again when the stream (re)opens and on `overflow` — never on a
 *   timer. Statistics are read again after events, at most once a second.
 * - Which buttons a task shows is the engine's rule (core/actions.py, util.applies).
 * - Task text only ever reaches the page through textContent.
 */
import { IS_CLUSTER, ENGINE, POLL_MS, loadWorkers, offers, showClusterParts } from "./cluster.js";
import { createDetails } from "./details.js";
import { fillRow, makeRow } from "./rows.js";
import { readEvents } from "./sse.js";
import {
  $,
  ACTIVE,
  ApiError,
  RULES,
  applies,
  el,
  errorOf,
  formatDuration,
  setAttr,
  setText,
  showError,
  taskDuration,
  taskName,
  toast,
} from "./util.js";

const KEY_STORE = "qtqueue.admin.apiKey";
const PAGE_SIZE = 200;
const MAX_ROWS = 1000; // the most one list read returns (the REST API's MAX_PAGE)
const STATS_MIN_INTERVAL_MS = 1000;
const RECONNECT_FIRST_MS = 500;
const RECONNECT_MAX_MS = 30000;

/* The status filters: each a label and the statuses it shows (null: all). */
const FILTERS = [
  { id: "all", label: "All", statuses: null },
  { id: "pending", label: "Pending", statuses: ["pending"] },
  { id: "running", label: "Running", statuses: RULES.groups.active },
  { id: "paused", label: "Paused", statuses: ["paused"] },
  { id: "completed", label: "Completed", statuses: ["completed"] },
  { id: "failed", label: "Failed", statuses: ["failed"] },
  { id: "timeout", label: "Timed out", statuses: ["timeout"] },
  { id: "cancelled", label: "Cancelled", statuses: ["cancelled"] },
];

/* The actions a task offers: verb, button text, the route, and whether the table row shows it. */
const ACTIONS = [
  { verb: "approve", label: "Approve", method: "POST", path: (id) => `/tasks/${id}/approve`, row: false },
  { verb: "reject", label: "Reject", method: "POST", path: (id) => `/tasks/${id}/reject`, row: false },
  { verb: "pause", label: "Pause", method: "POST", path: (id) => `/tasks/${id}/pause`, row: true },
  { verb: "resume", label: "Resume", method: "POST", path: (id) => `/tasks/${id}/resume`, row: true },
  { verb: "retry", label: "Retry", method: "POST", path: (id) => `/tasks/${id}/retry`, row: true },
  { verb: "cancel", label: "Cancel", method: "DELETE", path: (id) => `/tasks/${id}`, row: true },
];

const state = {
  key: null,
  filter: FILTERS[0],
  limit: PAGE_SIZE, // rows the table holds: a page more each time older tasks are asked for
  total: null, // tasks the filter matches, as the last list read counted them
  rows: new Map(), // task id -> { task, tr, cells, actions }
  // task id -> the updated_at of the newest state applied: a reply or list read that
  // arrives after a newer event is dropped (see isStale)
  latest: new Map(),
  serverNow: 0, // the newest updated_at seen (the engine's clock)
  reading: false, // a list read is under way
  touched: new Set(), // tasks events changed while the list was being read
  stats: null,
  events: null, // AbortController of the event stream
  reconnectTimer: null,
  listSeq: 0, // the latest list read; an older reply is dropped
  statsTimer: null,
  statsBusy: false,
  statsWanted: false,
  statsLast: 0,
};

/* ------------------------------------------------------------------ the API */

function authHeaders(extra = {}) {
  return { Authorization: `Bearer ${state.key}`, ...extra };
}

/* fetch() with the key; a 401 asks for the key again; a coded error becomes ApiError. */
async function api(path, { method = "GET", signal } = {}) {
  if (!state.key) throw new ApiError(401, { message: "No API key" });
  const response = await fetch(path, {
    method,
    headers: authHeaders({ Accept: "application/json" }),
    signal,
    cache: "no-store",
    credentials: "omit",
  });
  if (response.status === 401) {
    const error = await errorOf(response);
    askForKey(error.message || "The API key was refused.");
    throw new ApiError(401, error);
  }
  if (!response.ok) throw new ApiError(response.status, await errorOf(response));
  return response.status === 204 ? {} : response.json();
}

function listPath(offset, limit) {
  const query = new URLSearchParams({ limit: String(limit), offset: String(offset), sort: "-created_at" });
  if (state.filter.statuses) query.set("status", state.filter.statuses.join(","));
  return `/tasks/?${query}`;
}

/* ------------------------------------------------------------------ actions */

/* Whether the page offers `action` on `task` (the engine's rule; a cluster lacks some). */
function shows(action, task) {
  return offers(action.verb) && applies(action.verb, task);
}

function actionKey(task, rowOnly) {
  const verbs = ACTIONS.filter((a) => (!rowOnly || a.row) && shows(a, task)).map((a) => a.verb);
  return `${verbs.join(",")}|${taskName(task)}`;
}

function actionButtons(task, rowOnly) {
  const buttons = [];
  for (const action of ACTIONS) {
    if ((rowOnly && !action.row) || !shows(action, task)) continue;
    const button = el("button", {
      type: "button",
      class: `action action-${action.verb}`,
      "data-action": action.verb,
      "aria-label": `${action.label} ${taskName(task)}`,
      text: action.label,
    });
    button.addEventListener("click", () => runAction(action, task, button));
    buttons.push(button);
  }
  return buttons;
}

async function runAction(action, task, button) {
  button.disabled = true;
  try {
    const reply = await api(action.path(encodeURIComponent(task.id)), { method: action.method });
    if (reply && reply.task) upsert(reply.task);
  } catch (err) {
    showError(`${action.label} “${taskName(task)}”`, err);
  } finally {
    button.disabled = false;
  }
}

const details = createDetails({ api, authHeaders, askForKey, actionButtons, actionKey });
const ROW_ACTIONS = { key: actionKey, buttons: actionButtons };

/* ------------------------------------------------------------------ the key */

function askForKey(message) {
  stopLive();
  state.key = null;
  sessionStorage.removeItem(KEY_STORE);
  details.close();
  $("main").hidden = true;
  $("forget-key").hidden = true;
  $("key-panel").hidden = false;
  $("key-error").textContent = message || "";
  setConnection("off", "Not connected");
  $("key-input").focus();
}

async function submitKey(event) {
  event.preventDefault();
  const key = $("key-input").value.trim();
  if (!key) {
    $("key-error").textContent = "Enter the key that `qtqueue token show` prints.";
    return;
  }
  $("key-submit").disabled = true;
  state.key = key;
  try {
    await api("/tasks/?limit=1");
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) {
      state.key = null;
      $("key-error").textContent = `The engine did not answer: ${err.message}`;
    }
    return;
  } finally {
    $("key-submit").disabled = false;
  }
  sessionStorage.setItem(KEY_STORE, key);
  $("key-input").value = "";
  $("key-error").textContent = "";
  open();
}

function open() {
  $("key-panel").hidden = true;
  $("main").hidden = false;
  $("forget-key").hidden = false;
  if (IS_CLUSTER && !ENGINE.live) poll();
  else connectEvents(0);
}

/* A cluster without live events: read the list, statistics and workers again every POLL_MS. */
function poll() {
  stopLive();
  setConnection("polling", `Read every ${POLL_MS / 1000} s`);
  reload();
  state.reconnectTimer = setTimeout(poll, POLL_MS);
}

/* ------------------------------------------------------------------ live: the event stream */

function setConnection(kind, text) {
  const node = $("connection");
  node.dataset.state = kind;
  node.textContent = text;
}

function stopLive() {
  if (state.events) state.events.abort();
  state.events = null;
  clearTimeout(state.reconnectTimer);
  state.reconnectTimer = null;
}

async function connectEvents(attempt) {
  stopLive();
  const controller = new AbortController();
  state.events = controller;
  setConnection("connecting", attempt ? "Reconnecting…" : "Connecting…");
  let opened = false;
  try {
    const response = await fetch("/events", {
      headers: authHeaders({ Accept: "text/event-stream" }),
      signal: controller.signal,
      cache: "no-store",
      credentials: "omit",
    });
    if (response.status === 401) {
      askForKey((await errorOf(response)).message);
      return;
    }
    if (!response.ok || !response.body) throw new ApiError(response.status, await errorOf(response));
    opened = true;
    setConnection("live", "Live");
    reload(); // subscribed first, then read: nothing committed in between is missed
    await readEvents(response.body, onMessage, controller.signal);
  } catch (err) {
    if (controller.signal.aborted) return;
    if (!opened) reload(); // show what there is while the stream is down
    console.warn("event stream:", err);
  }
  if (controller.signal.aborted || state.events !== controller) return;
  const next = opened ? 0 : attempt + 1;
  const base = Math.min(RECONNECT_MAX_MS, RECONNECT_FIRST_MS * 2 ** next);
  const delay = Math.round(base / 2 + Math.random() * (base / 2));
  setConnection("down", `Disconnected — retrying in ${Math.ceil(delay / 1000)} s`);
  state.reconnectTimer = setTimeout(() => connectEvents(next + 1), delay);
}

function onMessage(message) {
  let event;
  try {
    event = JSON.parse(message.data);
  } catch (_) {
    return;
  }
  const kind = event.kind || message.type;
  if (state.reading && event.task_id) state.touched.add(event.task_id);
  if (kind === "overflow" || (kind === "queue" && event.detail === "overflow")) {
    reload();
    return;
  }
  if (kind === "added" || kind === "changed") {
    if (event.task) upsert(event.task);
    else refreshTask(event.task_id);
  } else if (kind === "removed") {
    forget(event.task_id);
    if (details.showing(event.task_id)) details.close();
  } else if (kind === "notice" && event.detail) {
    toast(event.detail);
  } else if (kind === "question" && details.showing(event.task_id)) {
    refreshTask(event.task_id);
  }
  if (kind !== "hello" && kind !== "schedule_changed") scheduleStats();
}

async function refreshTask(id) {
  try {
    upsert((await api(`/tasks/${encodeURIComponent(id)}`)).task);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) forget(id);
  }
}

/* ------------------------------------------------------------------ the table */

function matches(task) {
  return !state.filter.statuses || state.filter.statuses.includes(task.status);
}

async function reload() {
  const seq = ++state.listSeq;
  state.reading = true;
  state.touched = new Set();
  scheduleStats(true);
  let reply;
  try {
    reply = await api(listPath(0, state.limit));
  } catch (err) {
    if (seq === state.listSeq) state.reading = false;
    showError("Could not read the tasks", err);
    return;
  }
  if (seq !== state.listSeq) return;
  const seen = new Set();
  for (const task of reply.tasks) {
    seen.add(task.id);
    upsert(task);
  }
  // a row the list lacks is gone, unless an event brought it after the list was read
  for (const id of [...state.rows.keys()]) if (!seen.has(id) && !state.touched.has(id)) removeRow(id);
  state.reading = false;
  state.touched = new Set();
  state.total = reply.total;
  renderShown();
}

/* The next page of older tasks, below the ones shown: the list is read again a page longer, so
 * a read already under way (the stream reopened or overflowed) cannot swallow the request. */
async function showOlder() {
  const button = $("show-older");
  button.disabled = true;
  state.limit = Math.min(MAX_ROWS, state.limit + PAGE_SIZE);
  try {
    await reload();
  } finally {
    button.disabled = false;
  }
}

/* Whether `task` is older than a state of it already applied (an action's reply or a list
 * read answered after the event of a later change). Otherwise it becomes the newest. */
function isStale(task) {
  const at = task.updated_at || 0;
  const seen = state.latest.get(task.id);
  if (seen !== undefined && seen > at) return true;
  state.latest.set(task.id, at);
  state.serverNow = Math.max(state.serverNow, at);
  return false;
}

/* Forget what no late reply can still contradict (kept two minutes of the engine's time);
 * a removed task is remembered for an hour. */
function pruneLatest() {
  const horizon = state.serverNow - 120;
  for (const [id, at] of state.latest) if (at < horizon) state.latest.delete(id);
}

function forget(id) {
  state.latest.set(id, state.serverNow + 3600);
  removeRow(id);
}

function upsert(task) {
  if (isStale(task)) return;
  const known = state.rows.get(task.id);
  details.update(task);
  if (!matches(task)) {
    removeRow(task.id);
    return;
  }
  if (known) {
    fillRow(known, task, ROW_ACTIONS);
    return;
  }
  const row = makeRow(task, details.open);
  fillRow(row, task, ROW_ACTIONS);
  if (!placeRow(row.tr, task)) return;
  state.rows.set(task.id, row);
  trimRows();
  renderShown();
}

/* Newest first: before the first row created earlier. False when it falls past a full page. */
function placeRow(tr, task) {
  const body = $("task-rows");
  for (const other of body.rows) {
    const known = state.rows.get(other.dataset.taskId);
    if (known && known.task.created_at < task.created_at) {
      body.insertBefore(tr, other);
      return true;
    }
  }
  if (state.rows.size >= state.limit) return false;
  body.append(tr);
  return true;
}

function trimRows() {
  const body = $("task-rows");
  while (state.rows.size > state.limit) {
    const last = body.rows[body.rows.length - 1];
    state.rows.delete(last.dataset.taskId);
    last.remove();
  }
}

function removeRow(id) {
  const known = state.rows.get(id);
  if (!known) return;
  known.tr.remove();
  state.rows.delete(id);
  renderShown();
}

function renderShown() {
  const shown = state.rows.size;
  $("empty").hidden = shown > 0;
  const counted = filterCount(state.filter);
  const total = counted == null ? state.total : counted;
  $("show-older").hidden = !(total > shown && state.limit < MAX_ROWS);
  $("shown").textContent =
    total != null && total > shown
      ? `Showing the newest ${shown} of ${total} tasks`
      : `${shown} task${shown === 1 ? "" : "s"}`;
  $("tasks-caption").textContent = `Tasks: ${state.filter.label.toLowerCase()}`;
}

/* Running rows' durations advance with the clock (no request: the page only redraws). */
function tick() {
  for (const row of state.rows.values()) {
    if (ACTIVE.has(row.task.status)) setText(row.cells.duration, formatDuration(taskDuration(row.task)));
  }
  if (state.latest.size > 1000) pruneLatest();
}

/* ------------------------------------------------------------------ filters and statistics */

function filterCount(filter) {
  if (!state.stats) return null;
  if (!filter.statuses) return state.stats.summary.total_tasks;
  const dist = state.stats.status_distribution || {};
  return filter.statuses.reduce((sum, status) => sum + (dist[status] || 0), 0);
}

function renderFilters() {
  const box = $("filters");
  if (!box.childElementCount) {
    for (const filter of FILTERS) {
      const count = el("span", { class: "count" });
      const button = el("button", { type: "button", class: "filter", "data-filter": filter.id }, filter.label, count);
      button.addEventListener("click", () => setFilter(filter));
      box.append(button);
    }
  }
  for (const button of box.children) {
    const filter = FILTERS.find((f) => f.id === button.dataset.filter);
    const count = filterCount(filter);
    setAttr(button, "aria-pressed", String(filter === state.filter));
    setText(button.querySelector(".count"), count == null ? "" : String(count));
  }
}

function setFilter(filter) {
  if (filter === state.filter) return;
  state.filter = filter;
  state.limit = PAGE_SIZE;
  state.total = null;
  for (const row of state.rows.values()) row.tr.remove();
  state.rows.clear();
  renderFilters();
  renderShown();
  reload();
}

/* At most one statistics read per STATS_MIN_INTERVAL_MS however many events arrive, and one
 * more after the last of them (an event during a read is not lost). */
function scheduleStats(now = false) {
  state.statsWanted = true;
  if (state.statsTimer || state.statsBusy) return;
  const wait = now ? 0 : Math.max(0, state.statsLast + STATS_MIN_INTERVAL_MS - Date.now());
  state.statsTimer = setTimeout(loadStats, wait);
}

async function loadStats() {
  state.statsTimer = null;
  state.statsWanted = false;
  state.statsBusy = true;
  state.statsLast = Date.now();
  try {
    state.stats = await api("/tasks/stats/queue");
    renderStats();
    await loadWorkers(api);
    renderFilters();
    renderShown();
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) console.warn("statistics:", err);
  } finally {
    state.statsBusy = false;
    if (state.statsWanted && state.key) scheduleStats();
  }
}

function renderStats() {
  const s = state.stats;
  const sum = s.summary;
  const perf = s.performance || {};
  const hour = (s.recent_activity || {}).last_hour || {};
  const cards = [
    ["Tasks", String(sum.total_tasks)],
    ["Running", `${sum.running_tasks} of ${sum.max_concurrent_tasks} ${IS_CLUSTER ? "workers" : "slots"}`],
    ["Waiting", String(sum.queue_size)],
    ["Success rate", perf.success_rate == null ? "—" : `${Math.round(perf.success_rate * 10) / 10}%`],
    ["Average run", formatDuration(perf.average_duration_seconds)],
    ["Dead letters", String(sum.dead_letters)],
    ["Last hour", `${hour.created || 0} added · ${hour.completed || 0} done · ${hour.failed || 0} failed`],
  ];
  $("stats").replaceChildren(
    ...cards.map(([term, value]) => el("div", { class: "card" }, el("dt", { text: term }), el("dd", { text: value }))),
  );
  const paused = Boolean(sum.queue_paused);
  setText($("dispatch-state"), paused ? "Dispatch paused: nothing new starts" : "Dispatching");
  $("dispatch-state").dataset.paused = String(paused);
  const toggle = $("dispatch-toggle");
  toggle.hidden = !offers("dispatch");
  setText(toggle, paused ? "Resume dispatch" : "Pause dispatch");
  toggle.dataset.paused = String(paused);
}

async function toggleDispatch() {
  const paused = $("dispatch-toggle").dataset.paused === "true";
  try {
    await api(`/tasks/worker/${paused ? "start" : "stop"}`, { method: "POST" });
    scheduleStats(true);
  } catch (err) {
    showError("Dispatch", err);
  }
}

/* ------------------------------------------------------------------ start */

$("key-form").addEventListener("submit", submitKey);
$("forget-key").addEventListener("click", () => askForKey("Key forgotten. Enter it again to continue."));
$("dispatch-toggle").addEventListener("click", toggleDispatch);
$("show-older").addEventListener("click", showOlder);
showClusterParts();
renderFilters();
setInterval(tick, 1000);
state.key = sessionStorage.getItem(KEY_STORE);
if (state.key) open();
else askForKey("");
