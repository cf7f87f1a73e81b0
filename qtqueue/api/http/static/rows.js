/* One task's row of the table: its elements made once, then changed in place as events come
 * (focus and selection survive a progress update). */
import { el, formatDuration, formatTime, setAttr, setText, statusLabel, taskDuration, taskName } from "./util.js";

export function makeRow(task, onOpen) {
  const tr = el("tr", { "data-task-id": task.id });
  const cells = {
    open: el("button", { type: "button", class: "link" }),
    step: el("span", { class: "step" }),
    type: el("td", { class: "type" }),
    badge: el("span", { class: "badge" }),
    progress: el("progress", { max: "100" }),
    percent: el("span", { class: "percent" }),
    queue: el("td", { class: "queue" }),
    created: el("td", { class: "created" }),
    duration: el("td", { class: "duration" }),
    actions: el("td", { class: "row-actions" }),
  };
  cells.open.addEventListener("click", () => onOpen(task.id, cells.open));
  tr.append(
    el("td", { class: "name" }, cells.open, cells.step),
    cells.type,
    el("td", { class: "status" }, cells.badge),
    el("td", { class: "progress" }, cells.progress, cells.percent),
    cells.queue,
    cells.created,
    cells.duration,
    cells.actions,
  );
  return { task, tr, cells, actions: null };
}

export function fillRow(row, task, actions) {
  row.task = task;
  const c = row.cells;
  const name = taskName(task);
  const percent = Math.max(0, Math.min(100, task.progress || 0));
  setText(c.open, name);
  setAttr(c.open, "aria-label", `Details of ${name}`);
  setAttr(c.open, "title", name);
  setText(c.step, task.current_step || "");
  c.step.hidden = !task.current_step;
  setText(c.type, task.task_type);
  setText(c.badge, statusLabel(task.status));
  setAttr(c.badge, "class", `badge status-${task.status}`);
  c.progress.value = percent;
  setAttr(c.progress, "aria-label", `Progress of ${name}`);
  setText(c.percent, `${Math.round(percent)}%`);
  setText(c.queue, task.queue || "—");
  setText(c.created, formatTime(task.created_at));
  setAttr(c.created, "title", new Date(task.created_at * 1000).toString());
  setText(c.duration, formatDuration(taskDuration(task)));
  const offered = actions.key(task, true);
  if (offered !== row.actions) {
    row.actions = offered;
    c.actions.replaceChildren(...actions.buttons(task, true));
  }
  row.tr.dataset.status = task.status;
}
