/* qtqueue admin page: shared pieces — the engine's rules, DOM building (text only), formats,
 * coded errors and notices. */

/* The engine's rules (core/actions.py, core/task.py), given to the page inside its HTML. */
export const RULES = JSON.parse(document.getElementById("qtqueue-rules").textContent);
export const ACTIVE = new Set(RULES.groups.active);
export const TERMINAL = new Set(RULES.groups.terminal);

const TOAST_MS = 8000;

export const $ = (id) => document.getElementById(id);

/* An element with attributes and children; `text` sets textContent — the only way task text
 * reaches the page (never innerHTML). */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (name === "text") node.textContent = value;
    else if (name === "class") node.className = value;
    else node.setAttribute(name, value);
  }
  node.append(...children);
  return node;
}

/* Change a node's text only when it differs (a live table redraws nothing needlessly). */
export function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

export function setAttr(node, name, value) {
  if (node.getAttribute(name) !== value) node.setAttribute(name, value);
}

export function taskName(task) {
  return task.name || task.task_type || task.id;
}

function pad(n) {
  return String(n).padStart(2, "0");
}

export function formatTime(seconds) {
  if (seconds == null) return "—";
  const d = new Date(seconds * 1000);
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  if (d.toDateString() === new Date().toDateString()) return time;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time}`;
}

export function formatDuration(seconds) {
  if (seconds == null || !isFinite(seconds)) return "—";
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const s = Math.round(seconds);
  if (s < 3600) return `${Math.floor(s / 60)} min ${pad(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${pad(Math.floor((s % 3600) / 60))} min`;
}

/* Running time: the recorded one, or for an attempt under way the time since it started. */
export function taskDuration(task) {
  if (ACTIVE.has(task.status) && task.started_at) return Date.now() / 1000 - task.started_at;
  return task.duration_s;
}

export function statusLabel(status) {
  return status === "timeout" ? "timed out" : status;
}

export function json(value) {
  return JSON.stringify(value, null, 2);
}

/* Whether `verb` applies to `task`: core/actions.py's statuses, and for approval and
 * rejection a HUMAN_REQUIRED task nobody approved yet (core.actions.awaits_approval). */
export function applies(verb, task) {
  const statuses = RULES.actions[verb];
  if (!statuses || !statuses.includes(task.status)) return false;
  if (verb === "approve" || verb === "reject") {
    return task.permission === "human_required" && task.approved_at == null && !TERMINAL.has(task.status);
  }
  return true;
}

/* A coded error from the engine: {code, message, description, suggestion}. */
export class ApiError extends Error {
  constructor(status, error) {
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || "";
    this.description = error.description || "";
    this.suggestion = error.suggestion || "";
  }
}

/* The coded error a failed reply carries (or its status line). */
export async function errorOf(response) {
  try {
    const body = await response.json();
    if (body && body.error) return body.error;
  } catch (_) {
    /* not JSON: the status says it */
  }
  return { message: `${response.status} ${response.statusText}` };
}

export function toast(text, detail = "", kind = "info") {
  const close = el("button", { class: "quiet", type: "button", "aria-label": "Dismiss", text: "✕" });
  const box = el("div", { class: `toast ${kind}` }, close, el("p", { text }));
  if (detail) box.append(el("p", { class: "toast-detail", text: detail }));
  close.addEventListener("click", () => box.remove());
  $("toasts").append(box);
  setTimeout(() => box.remove(), TOAST_MS);
}

/* Say what went wrong, with the code's description and fix; a refused key is handled where
 * it happens (the key form) and an aborted request is no error. */
export function showError(prefix, err) {
  if (err instanceof ApiError) {
    if (err.status === 401) return;
    const more = [err.description, err.suggestion && `Fix: ${err.suggestion}`].filter(Boolean).join(" ");
    toast(`${prefix}: ${err.message}${err.code ? ` (${err.code})` : ""}`, more, "error");
  } else if (err && err.name !== "AbortError") {
    toast(`${prefix}: ${err.message || err}`, "", "error");
  }
}
