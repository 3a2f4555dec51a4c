"use strict";

// The chat page. Text from the user, the server or the documents is only ever set with
// textContent / Text nodes, never parsed as HTML.
(() => {
  const MAX_CHARS = 500;
  const UNDO_SECONDS = 8; // 新对话 can be undone for this long
  const CONTEXT_LINES = 4; // lines shown around a quote
  const MORE_LINES = 20; // lines added on each side by "显示更多"
  const TEXT = {
    abstain: "抱歉，资料中没有能回答这个问题的内容。",
    suggest: "资料能回答的相近问题：",
    covers: (n) => `资料库共 ${n} 份资料：`,
    more: (n) => `等 ${n} 份。`,
    pending: "正在查找资料…",
    lead: "资料中的相关原文如下（黄色标出的是答案）：",
    conflictTitle: "请注意：不同资料给出的数字不同",
    conflictFoot: "同一数字在不同日期的资料中说法不同，按资料日期从新到旧列出，请核对原文。",
    empty: "请先输入问题。",
    hint: "Enter 发送，Shift + Enter 换行",
    tooLong: "问题内容过长，请精简后再试。",
    invalid: "无法处理这个问题，请输入 1 到 500 字的问题后再试。",
    offline: "无法连接服务器，请检查网络后重试。",
    failed: "服务暂时不可用，请稍后再试。",
    contextLoading: "正在加载原文…",
    contextFailed: "原文加载失败。",
    retry: "重试",
    // By band of the calibrated probability (the API's confidence_band; README): no cue when high.
    cue: {
      low: "证据较弱，请核对原文：这类答案十个里通常不到四个是对的。",
      medium: "证据一般，建议核对原文。",
    },
    notChinese: "资料是中文的，请用中文提问（例如：江北区金融机构有多少家）。",
    truncated: (n) => `问题最多 ${MAX_CHARS} 字：粘贴的 ${n} 字已截为前 ${MAX_CHARS} 字。`,
    answered: (line, n) => `${line} 已找到 ${n} 段原文。`,
    cleared: `对话已清空，${UNDO_SECONDS} 秒内可撤销。`,
    restored: "已恢复对话。",
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
  const undoBar = document.getElementById("undo");
  const undoButton = document.getElementById("undo-button");
  const touch = window.matchMedia("(pointer: coarse)"); // a phone's keyboard has no Enter/Shift hints to give
  let undoTimer = null;
  let cleared = null; // the conversation 新对话 removed, while it can be undone
  const narrow = window.matchMedia("(max-width: 480px)");
  const fullPlaceholder = input.placeholder;
  let busy = false;
  const DOCUMENTS_LISTED = 5; // a refusal lists this many of the documents, newest first
  let documents = []; // from /api/sources: what the documents are, for refusals
  const sourcesReady = fetch("/api/sources", { headers: { Accept: "application/json" } })
    .then((response) => (response.ok ? response.json() : []))
    .then((listed) => {
      if (Array.isArray(listed)) documents = listed;
    })
    .catch(() => {});
  const HISTORY_SENT = 4; // previous questions sent with a new one, for follow-ups (那它的面积呢)
  let asked = []; // the conversation's questions as answered, oldest first
  let replies = 0; // numbers each reply, so that its cards have ids of their own
  const KEY_CLAUSE_CHARS = 60; // an answer line taken from a quote's clause is cut to this length

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

  const KIND = { published: "发布", as_of: "据文中推断" }; // what a document's date is
  // As a reference: title, publisher, date, paragraph; the file and its raw lines, for checking; the URL.
  const citation = (a) => {
    const parts = [a.title || a.source, a.publisher, dateLabel(a.date, a.date_kind), `第 ${a.paragraph || 1} 段`];
    const cited = `“${a.quote}”——${parts.filter(Boolean).join("，")}（${a.source}，原始文本${lineLabel(a)}）。`;
    return a.url ? `${cited}${a.url}` : cited;
  };
  const documentLink = (a) =>
    `/doc/${encodeURIComponent(a.source)}?start=${a.char_start}&end=${a.char_end}#p${a.paragraph || 1}`;

  // 2020-07 -> 2020年7月: the date a document is of; with its kind, 2020年7月（据文中推断）.
  function dateLabel(date, kind) {
    const m = /^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?$/.exec(date || "");
    if (!m) return "日期不详";
    const text = `${m[1]}年${m[2] ? `${Number(m[2])}月` : ""}${m[3] ? `${Number(m[3])}日` : ""}`;
    return kind && KIND[kind] ? `${text}（${KIND[kind]}）` : text;
  }

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
      if (KIND[a.date_kind]) label.append(el("span", "date-kind", KIND[a.date_kind]));
    }
    if (a.publisher) label.append(el("span", "publisher", a.publisher));
    label.append(el("span", "file", a.source), el("span", "lines", lineLabel(a)));
    return label;
  }

  function quoteCard(a, i, id) {
    const card = el("li", "quote-card");
    card.id = `${id}-q${i + 1}`;
    card.tabIndex = -1; // a marker moves the focus here
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
    copyButton.title = "复制引文及其出处：标题、出版方、日期、段落，以及文件名和原始行号";
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

    const read = el("a", "action", "阅读全文");
    read.href = documentLink(a);
    read.target = "_blank";
    read.rel = "noopener";
    read.setAttribute("aria-label", `阅读全文：引文 ${i + 1}（新窗口）`);

    const actions = el("div", "actions");
    actions.append(contextButton, copyButton, read);
    card.append(head, quote, actions, context);
    return card;
  }

  // --- The answer line: the answer first, with markers that jump to the cards ---------------

  // Without a marked span: the quote's clause that shares most characters with the question.
  function keyClause(quote, question) {
    const asked = new Set(codePoints(question));
    const clauses = quote.split(/(?<=[，,；;。！？!?])/).map((c) => c.trim()).filter(Boolean);
    let best = clauses[0] || quote;
    let bestShared = -1;
    for (const clause of clauses) {
      const shared = codePoints(clause).filter((ch) => asked.has(ch)).length;
      if (shared > bestShared) [best, bestShared] = [clause, shared];
    }
    const chars = codePoints(best.replace(/[，,；;。！？!?]$/, ""));
    return chars.length > KEY_CLAUSE_CHARS ? `${chars.slice(0, KEY_CLAUSE_CHARS).join("")}…` : chars.join("");
  }

  const same = (x, y) => x.replace(/\s/g, "") === y.replace(/\s/g, "");

  function jumpTo(card) {
    card.scrollIntoView({ block: "center", behavior: "smooth" });
    card.focus({ preventScroll: true });
  }

  function marker(cards, i) {
    const link = el("a", "marker", `[${i + 1}]`);
    link.href = `#${cards[i].id}`;
    link.setAttribute("aria-label", `见引文 ${i + 1}`);
    link.addEventListener("click", (event) => {
      event.preventDefault();
      jumpTo(cards[i]);
    });
    return link;
  }

  // The best answer (or its quote's key clause) and markers of every card that gives the same.
  function answerLine(data, question, cards) {
    const first = data.answers[0];
    const text = first.answer || keyClause(first.quote, question);
    const line = el("p", "answer-line");
    line.append(el("span", "answer-label", "答："), el("span", "answer-text", text));
    data.answers.forEach((a, i) => {
      if (i === 0 || (first.answer && a.answer && same(a.answer, first.answer))) line.append(" ", marker(cards, i));
    });
    return line;
  }

  // The values the answers give one figure (same measure, unit and subject: `data.conflict`),
  // newest document first, each with its date and a link to its card. Collapsed on a phone.
  function conflictNotice(data, cards) {
    const chosen = (data.conflict || []).filter((i) => data.answers[i] && data.answers[i].answer);
    const byDate = chosen.sort((x, y) => (data.answers[y].date || "").localeCompare(data.answers[x].date || ""));
    const box = el("details", "notice conflict");
    box.open = !narrow.matches;
    const summary = el("summary", "notice-title", TEXT.conflictTitle);
    summary.append(el("span", "notice-count", `（${byDate.length} 个数值）`));
    box.append(summary, el("p", "notice-text", TEXT.conflictFoot));
    const list = el("ul", "figures");
    for (const i of byDate) {
      const a = data.answers[i];
      const item = el("li");
      item.append(el("span", "figure-date", dateLabel(a.date)), el("strong", "figure", a.answer), marker(cards, i));
      item.append(el("span", "figure-source", a.title || a.source));
      list.append(item);
    }
    box.append(list);
    return box;
  }

  function answeredAs(data, question) {
    const answered = data.answered_question;
    if (typeof answered !== "string" || answered === question) return null;
    return el("p", "answered-as", `按「${answered}」回答`);
  }

  // Questions the documents answer, near a refused one: each asks itself when chosen.
  function suggestionList(suggestions) {
    const box = el("div", "suggestions");
    box.append(el("p", "suggest-title", TEXT.suggest));
    const list = el("div", "examples");
    for (const q of suggestions) {
      const chip = button(q, "example suggestion");
      chip.addEventListener("click", () => {
        if (busy) return;
        input.focus();
        ask(q);
      });
      list.append(chip);
    }
    box.append(list);
    return box;
  }

  // What the documents are: titles and dates, newest first (once /api/sources has answered).
  function coverage() {
    const box = el("div", "coverage");
    sourcesReady.then(() => fillCoverage(box));
    return box;
  }

  function fillCoverage(box) {
    if (!documents.length) return;
    box.append(el("p", "coverage-title", TEXT.covers(documents.length)));
    const list = el("ul", "coverage-list");
    const newest = [...documents].sort((x, y) => (y.date || "").localeCompare(x.date || ""));
    for (const d of newest.slice(0, DOCUMENTS_LISTED)) {
      list.append(el("li", null, `${d.title || d.file}（${dateLabel(d.date)}）`));
    }
    box.append(list);
    if (documents.length > DOCUMENTS_LISTED) box.append(el("p", "coverage-more", TEXT.more(documents.length)));
  }

  function renderResult(reply, data, question) {
    asked.push(typeof data.answered_question === "string" ? data.answered_question : question);
    const completed = answeredAs(data, question);
    if (data.abstained || data.answers.length === 0) {
      reply.classList.add("abstain");
      if (!hasChinese(question)) {
        reply.append(el("p", null, TEXT.notChinese));
        return;
      }
      reply.append(el("p", null, data.hint || TEXT.abstain));
      if (completed) reply.append(completed);
      const suggestions = Array.isArray(data.suggestions) ? data.suggestions.filter((q) => typeof q === "string") : [];
      if (suggestions.length) reply.append(suggestionList(suggestions));
      reply.append(coverage());
      return;
    }
    replies += 1;
    const cards = data.answers.map((a, i) => quoteCard(a, i, `reply-${replies}`));
    reply.append(answerLine(data, question, cards));
    if (completed) reply.append(completed);
    const cue = TEXT.cue[data.confidence_band];
    if (cue) reply.append(el("p", `confidence ${data.confidence_band}`, cue));
    if ((data.conflict || []).length > 1) reply.append(conflictNotice(data, cards));
    reply.append(el("p", "lead", TEXT.lead));
    const list = el("ol", "quotes");
    list.append(...cards);
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
    const before = saved();
    try {
      localStorage.removeItem(STORAGE_KEY);
    } catch {
      // nothing stored
    }
    log.replaceChildren();
    asked = [];
    showWelcome();
    input.focus();
    if (before.length) offerUndo(before);
    else announce.textContent = "";
  }

  function offerUndo(conversation) {
    cleared = conversation;
    undoBar.hidden = false;
    announce.textContent = TEXT.cleared;
    clearTimeout(undoTimer);
    undoTimer = setTimeout(dropUndo, UNDO_SECONDS * 1000);
  }

  function dropUndo() {
    clearTimeout(undoTimer);
    cleared = null;
    undoBar.hidden = true;
  }

  function undoNewChat() {
    if (!cleared || busy) return;
    const all = [...cleared, ...saved()]; // and anything asked since
    dropUndo();
    try {
      localStorage.setItem(STORAGE_KEY, JSON.stringify(all));
    } catch {
      // storage refused: the conversation is put back on the page only
    }
    log.replaceChildren();
    asked = [];
    restore(all);
    announce.textContent = TEXT.restored;
    input.focus();
  }

  function restore(conversation = saved()) {
    for (const { question, data } of conversation) {
      if (typeof question !== "string" || !data || !Array.isArray(data.answers)) continue;
      const [, reply] = turnFor(question);
      renderResult(reply, data, question);
    }
    showWelcome();
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
        body: JSON.stringify({ question, history: asked.slice(-HISTORY_SENT) }),
      });
      const data = response.ok ? await response.json() : null;
      reply.replaceChildren();
      reply.classList.remove("pending");
      if (data) {
        renderResult(reply, data, question);
        remember(question, data);
        const line = reply.querySelector(".answer-line");
        const said = line ? line.querySelector(".answer-label").textContent + line.querySelector(".answer-text").textContent : "";
        announce.textContent = data.abstained ? reply.textContent : TEXT.answered(`${said}。`, data.answers.length);
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
      ask(question).then((answered) => {
        // Answered: the question is done with, as after Enter; the next one goes in the box.
        if (answered && input.value.trim() === question) {
          input.value = "";
          updateComposer();
        }
        input.focus();
      });
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
      setHint(keyHint(), false);
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
  undoButton.addEventListener("click", undoNewChat);
  // Only Enter and Shift + Enter need telling, and only where there is a keyboard with them.
  const keyHint = () => (touch.matches ? "" : TEXT.hint);
  if (!hint.classList.contains("warn")) hint.textContent = keyHint();

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
