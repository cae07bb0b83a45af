// RPA Workbench admin: the language switcher, and a log page's text loaded through its signed URL.
document.addEventListener("DOMContentLoaded", () => {
  const select = document.getElementById("language-select");
  if (select) select.addEventListener("change", () => select.form.submit());

  // <pre class="log-text" data-log-src="signed URL" data-max-bytes="N">: show at most N bytes.
  document.querySelectorAll("pre[data-log-src]").forEach(async (box) => {
    const limit = Number(box.dataset.maxBytes) || 65536;
    try {
      const response = await fetch(box.dataset.logSrc, { credentials: "same-origin" });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const reader = response.body.getReader();
      const chunks = [];
      let size = 0;
      let cut = false;
      while (size < limit) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(value);
        size += value.length;
      }
      if (size >= limit) { cut = true; reader.cancel(); }
      const bytes = new Uint8Array(Math.min(size, limit));
      let offset = 0;
      for (const chunk of chunks) {
        const part = chunk.subarray(0, bytes.length - offset);
        bytes.set(part, offset);
        offset += part.length;
        if (offset >= bytes.length) break;
      }
      box.textContent = new TextDecoder("utf-8").decode(bytes) + (cut ? `\n… (${box.dataset.truncated || "truncated"})` : "");
    } catch (error) {
      box.textContent = `${box.dataset.failed || "Could not load the log"}: ${error.message}`;
    }
  });
});
