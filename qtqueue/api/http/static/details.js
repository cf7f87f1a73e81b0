/* The task details panel: every field, the error with its code's description and fix, the
 * actions that apply, and the live log (followed while the panel is open, aborted on close). */
import {
  $,
  ACTIVE,
  ApiError,
  el,
  errorOf,
  formatDuration,
  formatTime,
  json,
  setText,
  showError,
  statusLabel,
  taskDuration,
  taskName,
} from "./util.js";

const LOG_MAX_CHARS = 200000;

/* deps: api(path) → JSON, authHeaders(extra), askForKey(message),
 * actionButtons(task, rowOnly) → [button], actionKey(task, rowOnly) → string. */
export function createDetails(deps) {
  let shown = null; // { id, task, log: AbortController, opener, errorCode, actions }

  /* One term and its text, or nothing for an empty value. */
  function field(term, value) {
    if (value == null || value === "" || (Array.isArray(value) && !value.length)) return [];
    return [[term, Array.isArray(value) ? value.join(", ") : String(value)]];
  }

  /* Redrawn only when a text changed: a selection (a task id being copied) survives the
   * progress events of a running task. */
  function renderFields(pairs) {
    const key = JSON.stringify(pairs);
    if (key === shown.fields) return;
    shown.fields = key;
    $("details-fields").replaceChildren(
      ...pairs.flatMap(([term, text]) => [el("dt", { text: term }), el("dd", { text })]),
    );
  }

  function update(task) {
    if (!shown || shown.id !== task.id) return;
    shown.task = task;
    setText($("details-title"), taskName(task));
    const actions = deps.actionKey(task, false);
    if (actions !== shown.actions) {
      shown.actions = actions;
      $("details-actions").replaceChildren(...deps.actionButtons(task, false));
    }
    const retries =
      `${task.retry_count} of ${task.max_retries == null ? "the queue's default" : task.max_retries}` +
      (task.dead_letter ? " — dead letter" : "");
    const waited = task.started_at ? task.started_at - task.created_at : null;
    renderFields([
      ...field("Status", statusLabel(task.status) + (task.wait_reason ? ` — ${task.wait_reason}` : "")),
      ...field("Step", task.current_step),
      ...field("Progress", `${Math.round(task.progress || 0)}%`),
      ...field("Type", task.task_type),
      ...field("Queue", task.queue),
      ...field("Priority", task.priority),
      ...field("Category", task.category),
      ...field("Tags", task.tags),
      ...field("Created by", task.created_by),
      ...field("Permission", task.permission),
      ...field("Created", formatTime(task.created_at)),
      ...field("Started", task.started_at ? formatTime(task.started_at) : null),
      ...field("Waited", waited == null ? null : formatDuration(waited)),
      ...field("Completed", task.completed_at ? formatTime(task.completed_at) : null),
      // a running attempt's time ticks in its table row; here it would redraw every field
      ...field("Duration", ACTIVE.has(task.status) ? "running…" : formatDuration(taskDuration(task))),
      ...field("Retries", retries),
      ...field("Timeout", task.timeout_s ? formatDuration(task.timeout_s) : "none"),
      ...field("Depends on", task.depends_on),
      ...field("Id", task.id),
    ]);
    setText($("details-params"), json(task.params || {}));
    $("details-result-box").hidden = task.result == null;
    setText($("details-result"), task.result == null ? "" : json(task.result));
    renderError(task);
  }

  async function renderError(task) {
    const box = $("details-error");
    if (!task.error_code && !task.error) {
      box.hidden = true;
      shown.errorCode = null;
      return;
    }
    box.hidden = false;
    setText($("error-code"), task.error_code || "");
    setText($("error-message"), task.error || "");
    const details = task.error_details || {};
    $("error-details").hidden = !Object.keys(details).length;
    setText($("error-details"), json(details));
    if (!task.error_code || task.error_code === shown.errorCode) return;
    shown.errorCode = task.error_code;
    setText($("error-description"), "");
    setText($("error-suggestion"), "");
    try {
      const reply = await deps.api(`/admin/api/errors/${encodeURIComponent(task.error_code)}`);
      if (!shown || shown.id !== task.id) return;
      setText($("error-description"), reply.error.description);
      setText($("error-suggestion"), reply.error.suggestion);
    } catch (err) {
      if (shown) shown.errorCode = null;
      showError("Could not explain the error code", err);
    }
  }

  /* The task's log, streamed while the panel shows this task. */
  async function followLog(id, controller) {
    const out = $("details-log");
    const state = $("log-state");
    out.textContent = "";
    state.textContent = "Following…";
    try {
      const response = await fetch(`/tasks/${encodeURIComponent(id)}/log?follow=1`, {
        headers: deps.authHeaders({ Accept: "text/plain" }),
        signal: controller.signal,
        cache: "no-store",
        credentials: "omit",
      });
      if (response.status === 401) {
        deps.askForKey((await errorOf(response)).message);
        return;
      }
      if (!response.ok || !response.body) throw new ApiError(response.status, await errorOf(response));
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      controller.signal.addEventListener("abort", () => reader.cancel().catch(() => {}));
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const atEnd = out.scrollTop + out.clientHeight >= out.scrollHeight - 4;
        let text = out.textContent + value;
        if (text.length > LOG_MAX_CHARS) text = "…\n" + text.slice(text.length - LOG_MAX_CHARS);
        out.textContent = text;
        if (atEnd) out.scrollTop = out.scrollHeight;
      }
      if (!controller.signal.aborted) state.textContent = out.textContent ? "End of log" : "No output";
    } catch (err) {
      if (controller.signal.aborted) return;
      state.textContent = err instanceof ApiError ? `Log unavailable: ${err.message}` : "Log stream closed";
    }
  }

  async function open(id, opener) {
    close();
    const log = new AbortController();
    shown = { id, task: null, log, opener, errorCode: null, actions: null, fields: null };
    const panel = $("details");
    panel.hidden = false;
    $("details-title").textContent = "Loading…";
    $("details-actions").replaceChildren();
    panel.focus();
    try {
      const reply = await deps.api(`/tasks/${encodeURIComponent(id)}`);
      if (!shown || shown.id !== id) return;
      update(reply.task);
      followLog(id, log);
    } catch (err) {
      showError("Could not read the task", err);
    }
  }

  function close() {
    const was = shown;
    if (!was) return;
    shown = null;
    was.log.abort();
    $("details").hidden = true;
    $("details-log").textContent = "";
    $("log-state").textContent = "";
    if (was.opener && was.opener.isConnected) was.opener.focus();
  }

  $("details-close").addEventListener("click", close);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && shown) close();
  });

  return { open, close, update, showing: (id) => shown !== null && shown.id === id };
}
