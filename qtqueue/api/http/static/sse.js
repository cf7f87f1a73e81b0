/* Server-sent events read from a fetch() body (EventSource cannot send an Authorization
 * header). The WHATWG rules: lines end in CR, LF or CRLF; `data:` lines join with "\n"; a
 * blank line dispatches; a line starting with ":" is a comment (keepalive); a leading BOM is
 * dropped. */

/* Call onMessage({type, data, id}) for each event of `body` until it ends or `signal` aborts. */
export async function readEvents(body, onMessage, signal) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  const abort = () => reader.cancel().catch(() => {});
  signal.addEventListener("abort", abort);
  let buffer = "";
  let first = true;
  let data = [];
  let type = "";
  let id = "";
  const line = (text) => {
    if (text === "") {
      if (data.length) onMessage({ type: type || "message", data: data.join("\n"), id });
      data = [];
      type = "";
      return;
    }
    if (text.startsWith(":")) return;
    const colon = text.indexOf(":");
    const field = colon < 0 ? text : text.slice(0, colon);
    let value = colon < 0 ? "" : text.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") data.push(value);
    else if (field === "event") type = value;
    else if (field === "id" && !value.includes("\0")) id = value;
  };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      if (first && buffer) {
        if (buffer.charCodeAt(0) === 0xfeff) buffer = buffer.slice(1);
        first = false;
      }
      // a CR at the very end may be the first half of a CRLF: keep it for the next chunk
      const cut = buffer.endsWith("\r") ? buffer.length - 1 : buffer.length;
      const lines = buffer.slice(0, cut).split(/\r\n|\r|\n/);
      buffer = lines.pop() + buffer.slice(cut);
      for (const text of lines) line(text);
    }
  } finally {
    signal.removeEventListener("abort", abort);
  }
}
