"use strict";

// The chat page. Text from the user, the server or the documents is only ever set with
// textContent / Text nodes, never parsed as HTML.
(() => {
  const MAX_CHARS = 500;
  const CONTEXT_LINES = 4; // lines shown around a quote
  const MORE_LINES = 20; // lines added on each side by "显示更多"
  const TEXT = {
    abstain: "抱歉，资料中没有找到能回答这个问题的内容。您可以换个说法再试试。",
    pending: "正在查找资料…",
    lead: "资料中的相关原文如下（黄色标出的是答案）：",
    conflictTitle: "请注意：不同来源给出的数字不同",
    conflictFoot: "以下数字分别出自不同资料，请结合出处核对原文。",
    empty: "请先输入问题。",
    hint: "Enter 发送，Shift + Enter 换行",
    tooLong: "问题内容过长，请精简后再试。",
    invalid: "无法处理这个问题，请输入 1 到 500 字的问题后再试。",
    offline: "无法连接服务器，请检查网络后重试。",
    failed: "服务暂时不可用，请稍后再试。",
    contextLoading: "正在加载原文…",
    contextFailed: "原文加载失败。",
    retry: "重试",
    notChinese: "资料是中文的，请用中文提问（例如：江北区金融机构有多少家）。",
    truncated: (n) => `问题最多 ${MAX_CHARS} 字：粘贴的 ${n} 字已截为前 ${MAX_CHARS} 字。`,
    answered: (n) => `已找到 ${n} 段原文。`,
  };
  const STORAGE_KEY = "jbqa.conversation";

  const form = document.getElementById("ask-form");
  const input = document.getElementById("question");
  const send = document.getElementById("send");
  const log = document.getElementById("log");
  const welcome = document.getElementById("welcome");
  const hint = document.getElementById("hint");
  const count = document.getElementById("count");
  const indexInfo = document.getElementById("index-info");
  const announce = document.getElementById("announce");
  const newChat = document.getElementById("new-chat");
  const narrow = window.matchMedia("(max-width: 480px)");
  const fullPlaceholder = input.placeholder;
  let busy = false;

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function button(label, className) {
    const node = el("button", className, label);
    node.type = "button";
    return node;
  }

  // Offsets from the API count Unicode code points (as Python does), not UTF-16 units.
  const codePoints = (text) => Array.from(text);
  const hasChinese = (text) => /[\u3400-\u9fff]/.test(text);

  const lineLabel = (a) =>
    a.line_start === a.line_end ? `第 ${a.line_start} 行` : `第 ${a.line_start}–${a.line_end} 行`;

  const dated = (a) => (a.title ? `${a.title}（${a.date || "日期不详"}）` : a.source);
  const citation = (a) => `“${a.quote}”——${a.title ? `${dated(a)}，${a.source}` : a.source} ${lineLabel(a)}`;

  function errorMessage(status) {
    if (status === 413) return TEXT.tooLong;
    if (status === 400 || status === 422) return TEXT.invalid;
    if (status === 0) return TEXT.offline;
    return TEXT.failed;
  }

  // --- Quotes -------------------------------------------------------------------------------

  function appendQuote(parent, a) {
    if (a.answer_start === null || a.answer_end === null) {
      parent.append(a.quote);
      return;
    }
    const chars = codePoints(a.quote);
    parent.append(
      chars.slice(0, a.answer_start).join(""),
      el("mark", null, chars.slice(a.answer_start, a.answer_end).join("")),
      chars.slice(a.answer_end).join(""),
    );
  }

  function sourceLabel(a) {
    const label = el("span", "source");
    if (a.title) {
      const title = el("span", "title", a.title);
      title.append(el("span", "date", `（${a.date || "日期不详"}）`)); // a date is never broken over two lines
      label.append(title);
    }
    label.append(el("span", "file", a.source), el("span", "lines", lineLabel(a)));
    return label;
  }

  function quoteCard(a, i) {
    const card = el("li", "quote-card");
    const head = el("div", "quote-head");
    head.append(el("span", "badge", `引文 ${i + 1}`), sourceLabel(a));
    const quote = el("blockquote", "quote");
    appendQuote(quote, a);

    const context = el("div", "context");
    context.hidden = true;
    const contextButton = button("查看上下文", "action");
    contextButton.setAttribute("aria-label", `查看上下文：引文 ${i + 1}`);
    contextButton.setAttribute("aria-expanded", "false");
    contextButton.addEventListener("click", () => {
      const opening = context.hidden;
      context.hidden = !opening;
      contextButton.setAttribute("aria-expanded", String(opening));
      contextButton.textContent = opening ? "收起上下文" : "查看上下文";
      contextButton.setAttribute("aria-label", `${contextButton.textContent}：引文 ${i + 1}`);
      if (opening && !context.hasChildNodes()) loadContext(context, a, CONTEXT_LINES);
    });

    const copyButton = button("复制引用", "action");
    copyButton.setAttribute("aria-label", `复制引用：引文 ${i + 1}`);
    copyButton.title = "复制引文、文件名和行号";
    copyButton.addEventListener("click", async () => {
      const ok = await copyText(citation(a));
      const label = (text) => {
        copyButton.textContent = text;
        copyButton.setAttribute("aria-label", `${text}：引文 ${i + 1}`);
      };
      label(ok ? "已复制" : "复制失败");
      copyButton.classList.toggle("done", ok);
      setTimeout(() => {
        label("复制引用");
        copyButton.classList.remove("done");
      }, 2000);
    });

    const actions = el("div", "actions");
    actions.append(contextButton, copyButton);
    card.append(head, quote, actions, context);
    return card;
  }

  function conflictNotice(answers) {
    const box = el("div", "notice conflict");
    box.setAttribute("role", "note");
    box.append(el("p", "notice-title", TEXT.conflictTitle), el("p", "notice-text", TEXT.conflictFoot));
    const list = el("ul", "figures");
    // Newest document first: its figure is the most recent.
    const byDate = [...answers].filter((a) => a.answer).sort((x, y) => (y.date || "").localeCompare(x.date || ""));
    for (const [k, a] of byDate.entries()) {
      const item = el("li");
      item.append(el("strong", "figure", a.answer));
      if (k === 0 && a.date && byDate.length > 1) item.append(el("span", "newest", "（最新）"));
      item.append(sourceLabel(a));
      list.append(item);
    }
    box.append(list);
    return box;
  }

  function renderResult(reply, data, question) {
    if (data.abstained || data.answers.length === 0) {
      reply.classList.add("abstain");
      reply.append(el("p", null, hasChinese(question) ? data.hint || TEXT.abstain : TEXT.notChinese));
      return;
    }
    if (data.conflicting) reply.append(conflictNotice(data.answers));
    reply.append(el("p", "lead", TEXT.lead));
    const list = el("ol", "quotes");
    data.answers.forEach((a, i) => list.append(quoteCard(a, i)));
    reply.append(list);
  }

  // --- Context: the quote's lines in the raw file -------------------------------------------

  async function loadContext(container, a, radius) {
    const start = Math.max(1, a.line_start - radius);
    const end = a.line_end + radius;
    const url = `/api/sources/${encodeURIComponent(a.source)}?start=${start}&end=${end}`;
    container.replaceChildren(el("p", "context-status", TEXT.contextLoading));
    let data;
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(String(response.status));
      data = await response.json();
    } catch {
      const retry = button(TEXT.retry, "action small retry");
      retry.setAttribute("aria-label", "重新加载原文");
      retry.addEventListener("click", () => loadContext(container, a, radius));
      const status = el("p", "context-status error", TEXT.contextFailed);
      status.append(" ", retry);
      container.replaceChildren(status);
      return;
    }
    renderContext(container, a, data, radius);
  }

  // Wrap runs of characters: the answer in <mark>, the rest of the quote in <span class="q">.
  function appendMarked(parent, chars, offset, a) {
    const kind = (p) => {
      if (a.answer_char_start !== null && p >= a.answer_char_start && p < a.answer_char_end) return "mark";
      if (p >= a.char_start && p < a.char_end) return "q";
      return "";
    };
    let i = 0;
    while (i < chars.length) {
      const k = kind(offset + i);
      let j = i + 1;
      while (j < chars.length && kind(offset + j) === k) j += 1;
      const text = chars.slice(i, j).join("");
      if (k === "mark") parent.append(el("mark", null, text));
      else if (k === "q") parent.append(el("span", "q", text));
      else parent.append(text);
      i = j;
    }
  }

  function renderContext(container, a, data, radius) {
    const head = el("div", "context-head");
    const title = el("span", "context-title", a.title || "");
    if (a.title) title.append(el("span", "date", `（${a.date || "日期不详"}）`), " · ");
    title.append(`${data.file} · 第 ${data.line_start}–${data.line_end} 行（共 ${data.total_lines} 行）`);
    head.append(title);
    if (data.line_start > 1 || data.line_end < data.total_lines) {
      const more = button("显示更多", "action small");
      more.addEventListener("click", () => loadContext(container, a, radius + MORE_LINES));
      head.append(more);
    }
    const lines = el("ol", "lines");
    lines.tabIndex = 0; // it scrolls: keyboard users must be able to reach it
    lines.setAttribute("aria-label", `原文：${data.file}`);
    const rows = data.text.split("\n");
    if (rows.length > 1 && rows[rows.length - 1] === "") rows.pop(); // the file's final line break
    let offset = data.char_start;
    let first = null;
    rows.forEach((row, k) => {
      const n = data.line_start + k;
      const inQuote = n >= a.line_start && n <= a.line_end;
      const line = el("li", inQuote ? "line in-quote" : "line");
      const chars = codePoints(row);
      const body = el("span", "text");
      appendMarked(body, chars[chars.length - 1] === "\r" ? chars.slice(0, -1) : chars, offset, a);
      line.append(el("span", "number", String(n)), body);
      lines.append(line);
      if (inQuote && first === null) first = line;
      offset += chars.length + 1;
    });
    container.replaceChildren(head, lines);
    if (first) lines.scrollTop = Math.max(0, first.offsetTop - lines.clientHeight / 3);
  }

  // --- Clipboard ----------------------------------------------------------------------------

  async function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      try {
        await navigator.clipboard.writeText(text);
        return true;
      } catch {
        // fall through to the selection-based copy
      }
    }
    const area = el("textarea", "clipboard-helper");
    area.value = text;
    area.setAttribute("readonly", "");
    document.body.append(area);
    area.select();
    let ok = false;
    try {
      ok = document.execCommand("copy");
    } catch {
      ok = false;
    }
    area.remove();
    return ok;
  }

  // --- Asking -------------------------------------------------------------------------------

  function setBusy(value) {
    busy = value;
    send.disabled = value;
    form.setAttribute("aria-busy", String(value));
  }

  // --- The conversation, kept in this browser --------------------------------------------

  function saved() {
    try {
      return JSON.parse(localStorage.getItem(STORAGE_KEY) || "[]");
    } catch {
      return [];
    }
  }

  function remember(question, data) {
    try {
      localStorage.setItem(STORAGE_KEY, JSON.stringify([...saved(), { question, data }]));
    } catch {
      // storage full or refused: the conversation is still on the page
    }
  }

  function showWelcome() {
    welcome.hidden = log.children.length > 0;
  }

  function turnFor(question) {
    const turn = el("li", "turn");
    const reply = el("div", "bubble reply");
    turn.append(el("div", "bubble question", question), reply);
    log.append(turn);
    showWelcome();
    return [turn, reply];
  }

  function startNewChat() {
    try {
      localStorage.removeItem(STORAGE_KEY);
    } catch {
      // nothing stored
    }
    log.replaceChildren();
    announce.textContent = "";
    showWelcome();
    input.focus();
  }

  function restore() {
    for (const { question, data } of saved()) {
      if (typeof question !== "string" || !data || !Array.isArray(data.answers)) continue;
      const [, reply] = turnFor(question);
      renderResult(reply, data, question);
    }
  }

  // --- Asking -------------------------------------------------------------------------------

  function setBusy(value) {
    busy = value;
    send.disabled = value;
    form.setAttribute("aria-busy", String(value));
  }

  async function ask(question) {
    setBusy(true);
    const [turn, reply] = turnFor(question);
    reply.classList.add("pending");
    reply.append(el("span", "spinner"), el("span", null, TEXT.pending));
    turn.scrollIntoView({ block: "start", behavior: "smooth" });
    let answered = false;
    try {
      const response = await fetch("/api/ask", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ question }),
      });
      const data = response.ok ? await response.json() : null;
      reply.replaceChildren();
      reply.classList.remove("pending");
      if (data) {
        renderResult(reply, data, question);
        remember(question, data);
        announce.textContent = data.abstained ? reply.textContent : TEXT.answered(data.answers.length);
        answered = true;
      } else showError(reply, response.status, question);
      turn.scrollIntoView({ block: "start", behavior: "smooth" }); // the question, then its answer
    } catch {
      reply.replaceChildren();
      reply.classList.remove("pending");
      showError(reply, 0, question);
    } finally {
      setBusy(false);
    }
    return answered;
  }

  function showError(reply, status, question) {
    reply.classList.add("error");
    const message = el("p", null, errorMessage(status));
    const retry = button(TEXT.retry, "action small retry");
    retry.setAttribute("aria-label", `重试：${question}`);
    retry.addEventListener("click", () => {
      if (busy) return;
      reply.closest(".turn").remove();
      ask(question);
    });
    reply.append(message, retry);
    announce.textContent = errorMessage(status);
  }

  function setHint(text, warn) {
    hint.textContent = text;
    hint.classList.toggle("warn", Boolean(warn));
  }

  function updateComposer() {
    count.textContent = `${codePoints(input.value).length}/${MAX_CHARS}`;
    input.style.height = "auto";
    if (input.value) input.style.height = `${Math.min(input.scrollHeight + 2, 160)}px`; // grow with the text
  }

  function submit() {
    if (busy) return;
    const question = input.value.trim();
    if (!question) {
      setHint(TEXT.empty, true);
      input.focus();
      return;
    }
    ask(question).then((answered) => {
      // The typed question stays in the box until it has been answered.
      if (answered && input.value.trim() === question) {
        input.value = "";
        updateComposer();
      }
    });
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });
  input.addEventListener("keydown", (event) => {
    // Enter sends, unless it confirms an IME composition (Chinese input) or comes with Shift.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      submit();
    }
  });
  input.addEventListener("input", () => {
    const chars = codePoints(input.value);
    if (chars.length > MAX_CHARS) {
      input.value = chars.slice(0, MAX_CHARS).join("");
      setHint(TEXT.truncated(chars.length), true);
    } else {
      setHint(TEXT.hint, false);
    }
    updateComposer();
  });
  // The example in the placeholder does not fit a phone's width.
  const fitPlaceholder = () => {
    input.placeholder = narrow.matches ? "请输入您的问题" : fullPlaceholder;
  };
  narrow.addEventListener("change", fitPlaceholder);
  fitPlaceholder();

  for (const example of document.querySelectorAll(".example")) {
    example.addEventListener("click", () => {
      if (busy) return;
      input.focus(); // the chip disappears with the welcome: keep the focus where the next question goes
      ask(example.textContent);
    });
  }
  newChat.addEventListener("click", startNewChat);
  restore();

  fetch("/api/health", { headers: { Accept: "application/json" } })
    .then((response) => (response.ok ? response.json() : null))
    .then((health) => {
      if (!health) return;
      const built = new Date(health.built_at);
      const date = Number.isNaN(built.getTime()) ? health.built_at : built.toLocaleDateString("zh-CN");
      indexInfo.textContent = `资料库：${health.files.length} 份文件、${health.passage_count} 个段落，更新于 ${date}。`;
    })
    .catch(() => {});
})();
