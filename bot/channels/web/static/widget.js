/* Trợ lý số web chat widget. Embed with:
 *   <script src="https://BOT/widget.js" data-title="Trợ lý số Lai Châu" async></script>
 * Plain JavaScript, no framework, no build step. Lives in a shadow root, so the host page's CSS
 * cannot touch it. Every sentence it shows comes from the server (GET /api/start), which takes
 * them from bot/replies/citizens.py like the other channels. Text from the server is always
 * inserted as text, never as HTML; links are made clickable by building <a> elements. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.__troLySo) return;
  window.__troLySo = true;
  var BASE = new URL(script.src, location.href).origin;
  var KEY = "trolyso-chat:" + BASE;
  var POLL_MS = 20000;
  var T = {};            // texts from the server
  var state = load();    // {session, items, after}
  var busy = false;
  var pollTimer = null;

  var CSS = [
    ":host{all:initial}",
    "*{box-sizing:border-box;font-family:system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif}",
    ".bubble{position:fixed;right:16px;bottom:16px;width:60px;height:60px;border-radius:50%;border:0;display:flex;align-items:center;justify-content:center;",
    "background:#0b4f8a;color:#fff;font-size:28px;cursor:pointer;box-shadow:0 4px 12px rgba(0,0,0,.3);z-index:2147483000}",
    ".bubble:focus-visible,button:focus-visible,textarea:focus-visible{outline:3px solid #f5b400;outline-offset:2px}",
    ".panel{position:fixed;right:16px;bottom:88px;width:380px;max-width:calc(100vw - 16px);height:560px;",
    "max-height:calc(100vh - 104px);background:#fff;color:#1a1a1a;border-radius:12px;display:flex;",
    "flex-direction:column;box-shadow:0 8px 28px rgba(0,0,0,.35);z-index:2147483000;overflow:hidden}",
    ".panel[hidden]{display:none}",
    "header{background:#0b4f8a;color:#fff;padding:10px 12px;display:flex;align-items:center;gap:8px}",
    "header h2{font-size:16px;margin:0;flex:1}",
    "header button{background:transparent;color:#fff;border:1px solid rgba(255,255,255,.6);border-radius:6px;",
    "padding:4px 8px;font-size:13px;cursor:pointer}",
    ".log{flex:1;overflow-y:auto;padding:12px;background:#f3f6f9;font-size:15px;line-height:1.45}",
    ".msg{margin:0 0 10px;padding:8px 10px;border-radius:10px;max-width:92%;white-space:pre-wrap;word-wrap:break-word}",
    ".me{background:#0b4f8a;color:#fff;margin-left:auto}",
    ".bot{background:#fff;border:1px solid #d5dde5}",
    ".team{background:#fff8e1;border:1px solid #e0c066}",
    ".who{display:block;font-size:12px;font-weight:600;margin-bottom:2px;color:#3d4a57}",
    ".me .who{color:#dbe8f5}",
    ".matched{display:block;font-size:13px;color:#3d4a57;margin-bottom:4px}",
    ".source{display:block;font-size:13px;color:#3d4a57;margin-top:6px}",
    "a{color:#0b4f8a}",
    ".choices{display:flex;flex-direction:column;gap:6px;margin:6px 0 10px}",
    ".choices button,.rate button{text-align:left;background:#fff;color:#0b4f8a;border:1px solid #0b4f8a;",
    "border-radius:8px;padding:8px 10px;font-size:14px;cursor:pointer}",
    ".rate{display:flex;gap:6px;margin:-4px 0 10px}",
    ".typing{font-style:italic;color:#3d4a57;font-size:14px;padding:0 12px 6px;background:#f3f6f9}",
    "form{display:flex;gap:6px;padding:8px;border-top:1px solid #d5dde5;background:#fff}",
    "textarea{flex:1;resize:none;font-size:16px;padding:8px;border:1px solid #8a99a8;border-radius:8px;height:44px}",
    "form button{background:#0b4f8a;color:#fff;border:0;border-radius:8px;padding:0 14px;font-size:15px;cursor:pointer}",
    ".sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}",
    "@media (max-width:480px){.panel{right:4px;left:4px;width:auto;bottom:80px;height:calc(100vh - 96px)}}"
  ].join("");

  function load() {
    try {
      var s = JSON.parse(localStorage.getItem(KEY) || "null");
      if (s && Array.isArray(s.items)) return s;
    } catch (e) { /* private mode or damaged storage: start afresh */ }
    return { session: null, items: [], after: 0 };
  }
  function save() {
    try { localStorage.setItem(KEY, JSON.stringify(state)); } catch (e) { /* storage full or off */ }
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    for (var k in attrs || {}) {
      if (k === "text") node.textContent = attrs[k];
      else if (k.slice(0, 2) === "on") node.addEventListener(k.slice(2), attrs[k]);
      else node.setAttribute(k, attrs[k]);
    }
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }

  // Plain text with http(s) links made clickable, built from text nodes only.
  function linked(text) {
    var frag = document.createDocumentFragment();
    var re = /https?:\/\/[^\s<>"')]+/g, last = 0, m;
    while ((m = re.exec(text))) {
      frag.appendChild(document.createTextNode(text.slice(last, m.index)));
      frag.appendChild(el("a", { href: m[0], target: "_blank", rel: "noopener noreferrer", text: m[0] }));
      last = m.index + m[0].length;
    }
    frag.appendChild(document.createTextNode(text.slice(last)));
    return frag;
  }

  function api(method, path, body) {
    return fetch(BASE + path, {
      method: method,
      headers: body ? { "Content-Type": "application/json" } : {},
      body: body ? JSON.stringify(body) : undefined,
      credentials: "omit"
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (!r.ok) { var err = new Error(data.message || data.error || String(r.status)); err.status = r.status; throw err; }
        return data;
      });
    });
  }

  // A speech-bubble icon drawn with SVG (emoji fonts are missing on many phones).
  function chatIcon() {
    var NS = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "30");
    svg.setAttribute("height", "30");
    svg.setAttribute("aria-hidden", "true");
    var path = document.createElementNS(NS, "path");
    path.setAttribute("fill", "currentColor");
    path.setAttribute("d", "M4 3h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm3 6a1.5 1.5 0 1 0 0 3 " +
      "1.5 1.5 0 0 0 0-3zm5 0a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zm5 0a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3z");
    svg.appendChild(path);
    return svg;
  }

  // -- the DOM -----------------------------------------------------------------------------------
  var host = el("div", { "data-trolyso": "" });
  var root = host.attachShadow({ mode: "open" });
  if (root.adoptedStyleSheets !== undefined && window.CSSStyleSheet) {
    var sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
    root.adoptedStyleSheets = [sheet];
  } else {
    root.appendChild(el("style", { text: CSS }));
  }
  var bubble = el("button", { "class": "bubble", type: "button", "aria-expanded": "false", "aria-controls": "trls-panel" });
  bubble.appendChild(chatIcon());
  var titleText = script.getAttribute("data-title") || "";
  var heading = el("h2", { id: "trls-title" });
  var clearBtn = el("button", { type: "button" });
  var closeBtn = el("button", { type: "button" });
  var log = el("div", { "class": "log", role: "log", "aria-live": "polite", "aria-relevant": "additions", tabindex: "0" });
  var typing = el("div", { "class": "typing", hidden: "" });
  var input = el("textarea", { rows: "1", maxlength: "2000" });
  var inputLabel = el("label", { "class": "sr", "for": "trls-input" });
  input.id = "trls-input";
  var send = el("button", { type: "submit" });
  var form = el("form", {}, [inputLabel, input, send]);
  var panel = el("section", { "class": "panel", id: "trls-panel", role: "dialog", "aria-labelledby": "trls-title", hidden: "" },
    [el("header", {}, [heading, clearBtn, closeBtn]), log, typing, form]);
  root.appendChild(bubble);
  root.appendChild(panel);

  function applyTexts() {
    heading.textContent = titleText || T.title || "Trợ lý số";
    bubble.setAttribute("aria-label", T.open || heading.textContent);
    clearBtn.textContent = T.clear || "";
    closeBtn.textContent = T.close || "×";
    closeBtn.setAttribute("aria-label", T.close || "×");
    input.placeholder = T.placeholder || "";
    inputLabel.textContent = T.placeholder || "";
    send.textContent = T.send || "→";
    typing.textContent = T.typing || "…";
  }

  // -- rendering ---------------------------------------------------------------------------------
  function render() {
    log.textContent = "";
    state.items.forEach(function (item, i) { log.appendChild(renderItem(item, i)); });
    log.scrollTop = log.scrollHeight;
  }

  function renderItem(item, index) {
    var frag = document.createDocumentFragment();
    var cls = item.who === "me" ? "me" : item.who === "team" ? "team" : "bot";
    var who = item.who === "me" ? T.you : item.who === "team" ? T.team : T.bot;
    var box = el("p", { "class": "msg " + cls }, [el("span", { "class": "who", text: who || "" })]);
    if (item.matched) box.appendChild(el("span", { "class": "matched", text: (T.matched || "{question}").replace("{question}", item.matched) }));
    box.appendChild(linked(item.text || ""));
    if (item.source && item.kind === "faq") box.appendChild(el("span", { "class": "source", text: (T.source || "") + ": " + item.source }));
    frag.appendChild(box);
    var last = index === state.items.length - 1;
    if (item.choices && item.choices.length && !item.chosen) {
      var list = el("div", { "class": "choices", role: "group" });
      item.choices.forEach(function (c) {
        list.appendChild(el("button", { type: "button", text: c.label, onclick: function () { choose(index, c); } }));
      });
      frag.appendChild(list);
    }
    if (item.replyId && (item.kind === "faq" || item.kind === "knowledge") && !item.rated && last) {
      frag.appendChild(el("div", { "class": "rate", role: "group", "aria-label": T.feedbackPrompt || "" }, [
        el("button", { type: "button", "aria-label": T.helpful, text: T.helpful || "", onclick: function () { rate(index, true); } }),
        el("button", { type: "button", "aria-label": T.notHelpful, text: T.notHelpful || "", onclick: function () { rate(index, false); } })
      ]));
    }
    return frag;
  }

  function botItem(reply) {
    var item = { who: "bot", text: reply.answer, source: reply.source, matched: reply.matched,
                 kind: reply.kind, replyId: reply.reply_id };
    var s = reply.suggestions || [];
    if (reply.quiz && reply.quiz.options) {
      item.choices = reply.quiz.options.map(function (o, n) { return { label: (n + 1) + ". " + o, quiz: n + 1, index: reply.quiz.index }; });
    }
    if (reply.communes && reply.communes.length) {
      item.choices = reply.communes.map(function (c) { return { label: c.label, commune: c.code }; });
    }
    if (reply.kind === "clarify" && s.length === 1) {
      item.choices = [{ label: T.yes, faq: s[0].faq_id, question: s[0].question },
                      { label: T.no, none: reply.reply_id }];
    } else if (reply.kind === "quiz" && s.length) {
      item.choices = s.map(function (x) { return { label: x.question, faq: x.faq_id, question: x.question }; });
    } else if (reply.kind === "clarify" && s.length) {
      item.choices = s.map(function (x) { return { label: x.question, faq: x.faq_id, question: x.question }; });
      item.choices.push({ label: T.none, none: reply.reply_id });
    }
    if (reply.kind === "erase_confirm") {  // "xóa dữ liệu của tôi": asked first
      item.choices = [{ label: T.eraseYes, erase: true }, { label: T.eraseNo, erase: false }];
    }
    if (reply.offer && reply.offer.topic) {  // "Thử 3 câu đố về chủ đề này?" after an FAQ answer
      item.text = (item.text || "") + "\n" + reply.offer.text;
      item.choices = (item.choices || []).concat([{ label: reply.offer.button, offer: reply.offer.topic }]);
    }
    return item;
  }

  function push(item) { state.items.push(item); save(); render(); }

  function withSession(data) { if (data && data.session) state.session = data.session; }

  // A reply from /api/chat or /api/choose. "erased": the server deleted the session and the
  // citizen's data, so the conversation kept on this device goes too.
  function show(reply) {
    if (reply.kind === "erased") state = { session: null, items: [], after: 0 };
    else withSession(reply);
    if (reply.answer) push(botItem(reply));  // empty while a person handles the conversation
  }

  function working(on) { busy = on; typing.hidden = !on; send.disabled = on; }

  function fail(err) {
    push({ who: "bot", text: err && err.status === 429 ? T.rateLimited : err && err.status === 413 ? T.tooLong : T.error });
  }

  // -- actions -----------------------------------------------------------------------------------
  function ask(text) {
    if (busy || !text.trim()) return;
    push({ who: "me", text: text });
    working(true);
    api("POST", "/api/chat", { session: state.session, text: text }).then(show).catch(fail).then(function () { working(false); input.focus(); });
  }

  function choose(index, choice) {
    if (busy) return;
    state.items[index].chosen = true;
    var body = { session: state.session };
    if (choice.category) body.category = choice.category;
    else if (choice.commune) body.commune = choice.commune;
    else if (choice.quiz) { body.quiz_answer = choice.quiz; body.quiz_index = choice.index; }
    else if (choice.offer) body.quiz_offer = choice.offer;
    else if (choice.erase !== undefined) body.erase = choice.erase;
    else if (choice.faq) { body.faq_id = choice.faq; body.question = choice.question; }
    else body.none_of = choice.none === undefined ? null : choice.none;
    push({ who: "me", text: choice.label });
    working(true);
    api("POST", "/api/choose", body).then(function (reply) {
      if (reply.kind === "topic") {
        withSession(reply);
        push({ who: "bot", text: reply.label + "\n" + (T.topicQuestions || ""),
               choices: reply.questions.map(function (q) { return { label: q.question, faq: q.faq_id, question: q.question }; }) });
      } else {
        show(reply);
      }
    }).catch(fail).then(function () { working(false); });
  }

  function rate(index, helpful) {
    var item = state.items[index];
    item.rated = true;
    save();
    render();
    api("POST", "/api/feedback", { session: state.session, reply_id: item.replyId, helpful: helpful })
      .then(function (r) { push({ who: "bot", text: r.message || T.thanks }); }).catch(fail);
  }

  function greet() {
    var q = state.session ? "?session=" + encodeURIComponent(state.session) : "";
    return api("GET", "/api/start" + q).then(function (info) {
      T = info.texts || {};
      applyTexts();
      if (!state.items.length) {
        push({ who: "bot", text: info.greeting + "\n\n" + (T.topics || ""),
               choices: (info.topics || []).map(function (t) { return { label: t.label, category: t.id }; }) });
      }
    });
  }

  function poll() {
    if (!state.session) return;
    api("GET", "/api/messages?session=" + encodeURIComponent(state.session) + "&after=" + (state.after || 0))
      .then(function (r) {
        (r.messages || []).forEach(function (m) {
          state.after = Math.max(state.after || 0, m.id);
          state.items.push({ who: "team", text: m.text });
        });
        if ((r.messages || []).length) { save(); render(); }
      }).catch(function () { /* offline: try again later */ });
  }

  function clear() {
    var token = state.session;
    state = { session: null, items: [], after: 0 };
    save();
    if (token) api("POST", "/api/forget", { session: token }).catch(function () {});
    greet().then(function () { push({ who: "bot", text: T.cleared }); }).catch(fail);
  }

  function open() {
    panel.hidden = false;
    bubble.setAttribute("aria-expanded", "true");
    render();
    input.focus();
    poll();
    if (!pollTimer) pollTimer = setInterval(poll, POLL_MS);
  }

  function close() {
    panel.hidden = true;
    bubble.setAttribute("aria-expanded", "false");
    if (pollTimer) { clearInterval(pollTimer); pollTimer = null; }
    bubble.focus();
  }

  bubble.addEventListener("click", function () { if (panel.hidden) open(); else close(); });
  closeBtn.addEventListener("click", close);
  clearBtn.addEventListener("click", clear);
  panel.addEventListener("keydown", function (e) { if (e.key === "Escape") close(); });
  form.addEventListener("submit", function (e) { e.preventDefault(); var t = input.value; input.value = ""; ask(t); });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); form.requestSubmit ? form.requestSubmit() : form.dispatchEvent(new Event("submit")); }
  });

  applyTexts();
  (document.body || document.documentElement).appendChild(host);
  greet().catch(function () { /* the server is away: the bubble still opens and says so on send */ });
  poll();
})();
