"use strict";

// The full-document view: /doc/FILE?start=A&end=B shows the cleaned document, paragraph by
// paragraph, with the characters at raw offsets A..B (a quote) marked and scrolled into view.
// Text is only ever set with textContent / Text nodes, never parsed as HTML.
(() => {
  const title = document.getElementById("doc-title");
  const meta = document.getElementById("doc-meta");
  const status = document.getElementById("doc-status");
  const body = document.getElementById("doc-body");

  const el = (tag, className, text) => {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const chars = (text) => Array.from(text); // offsets from the API count code points

  function dateLabel(date, kind) {
    const m = /^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?$/.exec(date || "");
    if (!m) return "日期不详";
    const text = `${m[1]}年${m[2] ? `${Number(m[2])}月` : ""}${m[3] ? `${Number(m[3])}日` : ""}`;
    if (kind === "published") return `${text}发布`;
    if (kind === "as_of") return `截至${text}（据文中推断）`;
    return text;
  }

  const file = decodeURIComponent(location.pathname.replace(/^\/doc\//, ""));
  const params = new URLSearchParams(location.search);
  const range = ["start", "end"].map((k) => params.get(k)).filter((v) => /^\d{1,10}$/.test(v || ""));
  const query = range.length === 2 ? `?start=${range[0]}&end=${range[1]}` : "";

  fetch(`/api/documents/${encodeURIComponent(file)}${query}`, { headers: { Accept: "application/json" } })
    .then((response) => (response.ok ? response.json() : Promise.reject(new Error(String(response.status)))))
    .then((doc) => {
      const name = doc.title || doc.file;
      title.textContent = name;
      document.title = `${name} · 江北区资料问答`;
      meta.append([doc.publisher || "出版方不详", dateLabel(doc.date, doc.date_kind), doc.file].join(" · "));
      if (doc.url) {
        const link = el("a", "doc-url", "原文链接");
        link.href = doc.url; // http(s) only: the sidecar is checked at build time
        link.rel = "noopener noreferrer";
        meta.append(" · ", link);
      }
      let marked = null;
      doc.paragraphs.forEach((p, i) => {
        const item = el("li", `para ${p.kind}`);
        item.id = `p${i + 1}`;
        item.append(el("span", "para-number", `第 ${i + 1} 段`));
        const text = el(p.kind === "heading" ? "strong" : "span", "para-text");
        if (p.mark_start === null) text.textContent = p.text;
        else {
          const c = chars(p.text);
          const mark = el("mark", null, c.slice(p.mark_start, p.mark_end).join(""));
          text.append(c.slice(0, p.mark_start).join(""), mark, c.slice(p.mark_end).join(""));
          if (!marked) marked = item;
        }
        item.append(text);
        body.append(item);
      });
      status.textContent = marked ? `共 ${doc.paragraphs.length} 段，引文在${marked.firstChild.textContent}。` : `共 ${doc.paragraphs.length} 段。`;
      const target = marked || (location.hash ? document.getElementById(location.hash.slice(1)) : null);
      if (target) {
        target.classList.add("in-quote");
        target.tabIndex = -1;
        target.scrollIntoView({ block: "center" });
        target.focus({ preventScroll: true });
      }
    })
    .catch(() => {
      status.textContent = "无法加载这份资料：它不在资料库中，或服务暂时不可用。";
    });
})();
