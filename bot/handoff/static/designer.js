// Designers' review inbox: plain JavaScript, no build step, no CDN. Everything from the
// server is inserted with textContent (never innerHTML): customer messages cannot inject
// markup. The chart is inline SVG built with createElementNS.
"use strict";

const DAPI = API + "/designer";
const SVG = "http://www.w3.org/2000/svg";
const state = { options: null, conversation: null, corrections: {}, offset: 0, tab: "inbox" };
const CHANNELS = { telegram: "Telegram", zalo: "Zalo", rest: "REST", other: "Khác" };
const channelLabel = (code) => CHANNELS[code] || code;

function pct(value) { return (Math.round(value * 1000) / 10).toLocaleString("vi-VN") + "%"; }

function when(iso) {
  return new Date(iso).toLocaleString("vi-VN", { timeZone: "Asia/Ho_Chi_Minh",
    hour: "2-digit", minute: "2-digit", day: "2-digit", month: "2-digit", year: "numeric" });
}

function localDate(offsetDays) {
  const d = new Date(Date.now() + offsetDays * 86400000);
  return d.toLocaleDateString("sv-SE", { timeZone: "Asia/Ho_Chi_Minh" }); // YYYY-MM-DD
}

// ---------------------------------------------------------------- login
function showLogin() {
  $("designer-view").hidden = true;
  $("whoami").hidden = true;
  $("login-view").hidden = false;
  $("login-name").focus();
}

async function showDesigner(name) {
  try {
    state.options = await call("GET", DAPI + "/options");
  } catch (err) {
    notice(err.message, true);
    return;
  }
  $("agent-name").textContent = name;
  $("login-view").hidden = true;
  $("whoami").hidden = false;
  $("designer-view").hidden = false;
  const outcome = $("f-outcome");
  while (outcome.options.length > 1) outcome.remove(1);
  for (const [code, label] of Object.entries(state.options.outcomes)) {
    const option = el("option", null, label);
    option.value = code;
    outcome.append(option);
  }
  await refreshChangesCount();
  await showTab("inbox");
}

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("login-error").hidden = true;
  try {
    const data = await call("POST", API + "/login",
      { name: $("login-name").value.trim(), password: $("login-password").value });
    $("login-password").value = "";
    await showDesigner(data.agent);
  } catch (err) {
    $("login-error").textContent = err.message;
    $("login-error").hidden = false;
  }
});

$("logout").addEventListener("click", async () => {
  try { await call("POST", API + "/logout", {}); } catch (err) { /* signed out already */ }
  showLogin();
});

// ---------------------------------------------------------------- tabs and filters
async function showTab(tab) {
  state.tab = tab;
  document.querySelectorAll(".tab").forEach((b) => b.classList.toggle("selected", b.dataset.tab === tab));
  $("inbox-view").hidden = tab !== "inbox";
  $("metrics-view").hidden = tab !== "metrics";
  $("changes-view").hidden = tab !== "changes";
  $("period").hidden = tab === "changes";
  document.querySelectorAll(".inbox-only").forEach((n) => { n.hidden = tab !== "inbox"; });
  notice("");
  if (tab === "inbox") { state.offset = 0; await loadInbox(false); }
  if (tab === "metrics") await loadMetrics();
  if (tab === "changes") await loadChanges();
}

document.querySelectorAll(".tab").forEach((button) =>
  button.addEventListener("click", () => showTab(button.dataset.tab)));

$("period").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (state.tab === "metrics") await loadMetrics();
  else { state.offset = 0; await loadInbox(false); }
});

function periodQuery() {
  const params = new URLSearchParams();
  if ($("f-since").value) params.set("since", $("f-since").value);
  if ($("f-until").value) params.set("until", $("f-until").value);
  return params;
}

// ---------------------------------------------------------------- inbox
function outcomeLabel(code) {
  return (state.options && state.options.outcomes[code]) || code;
}

function conversationItem(c) {
  const item = el("li", "ticket-item conv-item");
  item.dataset.id = c.id;
  item.dataset.outcome = c.outcome;
  if (state.conversation && state.conversation.id === c.id) item.classList.add("selected");
  const line1 = el("div", "line1");
  line1.append(el("strong", null, "#" + c.id + " · " + channelLabel(c.channel)));
  line1.append(el("span", "badge outcome-" + c.outcome, outcomeLabel(c.outcome)));
  item.append(line1);
  item.append(el("div", "sub", when(c.last) + " · " + c.user_messages + " tin nhắn" +
    (c.min_confidence !== null && c.min_confidence !== undefined
      ? " · tin cậy thấp nhất " + pct(c.min_confidence) : "")));
  if (c.flow) item.append(el("div", "sub", "Dừng ở: " + c.flow + (c.flow_slot ? " / " + c.flow_slot : "")));
  item.append(el("div", "sub preview", c.preview));
  item.addEventListener("click", () => openConversation(c.id));
  return item;
}

let inboxRequest = 0;  // only the answer to the latest request is shown

async function loadInbox(more) {
  const mine = ++inboxRequest;
  const params = periodQuery();
  if ($("f-channel").value) params.set("channel", $("f-channel").value);
  if ($("f-outcome").value) params.set("outcome", $("f-outcome").value);
  if ($("f-low").checked) params.set("low", "1");
  params.set("offset", String(state.offset));
  let data;
  try {
    data = await call("GET", DAPI + "/conversations?" + params.toString());
  } catch (err) { notice(err.message, true); return; }
  if (mine !== inboxRequest) return;
  const list = $("inbox");
  if (!more) list.replaceChildren();
  list.dataset.query = params.toString();
  data.conversations.forEach((c) => list.append(conversationItem(c)));
  state.offset = data.offset + data.conversations.length;
  $("inbox-count").textContent = String(data.total);
  $("inbox-empty").hidden = data.total > 0;
  $("inbox-more").hidden = state.offset >= data.total;
}

$("inbox-more").addEventListener("click", () => loadInbox(true));

async function openConversation(id) {
  let data;
  try { data = await call("GET", DAPI + "/conversations/" + id); }
  catch (err) { notice(err.message, true); return; }
  state.conversation = data;
  state.corrections = {};
  document.querySelectorAll("#inbox .conv-item").forEach((n) =>
    n.classList.toggle("selected", Number(n.dataset.id) === id));
  $("no-conversation").hidden = true;
  $("conversation").hidden = false;
  $("story-result").hidden = true;
  $("conv-title").textContent = "Hội thoại #" + data.id + " · " + channelLabel(data.channel);
  $("conv-outcome").textContent = outcomeLabel(data.outcome);
  $("conv-outcome").className = "badge outcome-" + data.outcome;
  $("conv-meta").textContent = when(data.started) + " → " + when(data.last) +
    (data.flow ? " · dừng ở " + data.flow + (data.flow_slot ? " / " + data.flow_slot : "") : "");
  renderMessages();
}

function renderMessages() {
  const list = $("conv-messages");
  list.replaceChildren();
  for (const m of state.conversation.messages) {
    if (m.role === "action") {
      list.append(el("li", "msg action", "⚙ " + m.action));
      continue;
    }
    const item = el("li", "msg " + (m.role === "user" ? "customer user" : "bot"));
    item.dataset.event = m.event_id;
    item.append(el("span", "who", m.role === "user" ? "Khách" : "Trợ lý"));
    item.append(el("span", "text", m.text));
    if (m.role === "user") {
      if (m.fallback) item.classList.add("fallback");
      else if (m.low) item.classList.add("low");
      item.append(nluLine(m));
      const button = el("button", "secondary correct", "Sửa ý định / thực thể");
      button.type = "button";
      button.addEventListener("click", () => toggleCorrection(item, m));
      item.append(button);
    }
    list.append(item);
  }
  const count = Object.keys(state.corrections).length;
  $("corrections-note").textContent = count ? "Đã sửa " + count + " lượt (dùng khi lưu câu chuyện)." : "";
}

function nluLine(m) {
  const line = el("div", "nlu");
  const fixed = state.corrections[m.event_id];
  if (m.fallback) {
    line.append(el("span", "badge fallback", "không hiểu (" + m.intent + ")"));
    if (m.candidate) line.append(el("span", "badge intent", "gần nhất: " + m.candidate + " " + pct(m.candidate_confidence || 0)));
  } else {
    line.append(el("span", "badge intent" + (m.low ? " low" : ""), (m.intent || "?") +
      (m.confidence !== null && m.confidence !== undefined ? " " + pct(m.confidence) : "")));
  }
  for (const e of m.entities) line.append(el("span", "badge entity", e.entity + ": " + e.value));
  if (fixed) line.append(el("span", "badge intent corrected", "đã sửa → " + fixed.intent));
  return line;
}

function entityRow(entity) {
  const row = el("div", "entity-row");
  const name = el("select", "ent-name");
  for (const option of state.options.entities) {
    const o = el("option", null, option);
    o.value = option;
    if (entity && entity.entity === option) o.selected = true;
    name.append(o);
  }
  const span = el("input", "ent-text");
  span.placeholder = "đoạn chữ trong câu";
  span.value = entity ? entity.text : "";
  const value = el("input", "ent-value");
  value.placeholder = "giá trị (nếu khác)";
  value.value = entity && entity.value !== entity.text ? entity.value : "";
  const remove = el("button", "link", "Xóa");
  remove.type = "button";
  remove.addEventListener("click", () => row.remove());
  row.append(name, span, value, remove);
  return row;
}

function toggleCorrection(item, m) {
  const open = item.querySelector(".correction");
  if (open) { open.remove(); return; }
  const form = el("form", "correction");
  const textLabel = el("label", null, "Câu ví dụ (dữ liệu cá nhân đã thay bằng giá trị mẫu)");
  const text = el("input", "corr-text");
  text.value = m.example.text;
  textLabel.append(text);
  const intentLabel = el("label", null, "Ý định đúng");
  const intent = el("select", "corr-intent");
  for (const name of state.options.intents) {
    const o = el("option", null, name);
    o.value = name;
    if (name === (m.fallback ? m.candidate : m.intent)) o.selected = true;
    intent.append(o);
  }
  intentLabel.append(intent);
  const entities = el("div", "corr-entities");
  for (const e of m.example.entities) {
    entities.append(entityRow({ entity: e.entity, text: m.example.text.slice(e.start, e.end), value: e.value }));
  }
  const add = el("button", "link add-entity", "+ Thêm thực thể");
  add.type = "button";
  add.addEventListener("click", () => entities.append(entityRow(null)));
  const save = el("button", "corr-save", "Lưu thành câu ví dụ (chờ duyệt)");
  save.type = "submit";
  const result = el("div", "change-result");
  result.hidden = true;
  form.append(textLabel, intentLabel, el("span", "muted", "Thực thể"), entities, add, save, result);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const sentence = text.value;
    const rows = [...entities.querySelectorAll(".entity-row")].map((row) => ({
      entity: row.querySelector(".ent-name").value,
      text: row.querySelector(".ent-text").value,
      value: row.querySelector(".ent-value").value || null,
    })).filter((e) => e.text);
    const body = { intent: intent.value, text: sentence, entities: rows };
    try {
      const data = await call("POST", DAPI + "/conversations/" + state.conversation.id +
        "/messages/" + m.event_id + "/correction", body);
      showChange(result, data.change);
      // the same correction is used when the conversation is saved as a story
      const safeEntities = rows.map((r) => ({ entity: r.entity, text: r.text, value: r.value }));
      if (sentence === m.example.text) {
        state.corrections[m.event_id] = { intent: intent.value, entities: safeEntities };
      }
      item.querySelector(".nlu").replaceWith(nluLine(m));
      await refreshChangesCount();
    } catch (err) {
      result.hidden = false;
      result.replaceChildren(el("p", "error", err.message));
    }
  });
  item.append(form);
}

function showChange(box, change) {
  box.hidden = false;
  box.replaceChildren();
  box.append(el("strong", "change-id", "Thay đổi " + change.id + " đang chờ duyệt"));
  box.append(el("pre", "diff", change.diff));
  for (const f of change.flags) box.append(el("p", "flag " + f.level, f.message));
}

$("save-story").addEventListener("click", async () => {
  try {
    const data = await call("POST", DAPI + "/conversations/" + state.conversation.id + "/story",
      { corrections: state.corrections });
    showChange($("story-result"), data.change);
    await refreshChangesCount();
  } catch (err) { notice(err.message, true); }
});

// ---------------------------------------------------------------- metrics
function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

function chart(rows) {
  // grouped horizontal bars: fallback, clarify, hand-off rate of the 12 worst intents
  const top = rows.slice(0, 12);
  const bar = 8, gap = 10, left = 190, width = 560;
  const rowH = bar * 3 + gap;
  const height = top.length * rowH + 40;
  const root = svg("svg", { viewBox: `0 0 ${left + width + 50} ${height}`, role: "img" });
  root.append(svg("title", {}, "Tỉ lệ không hiểu, hỏi lại và chuyển nhân viên theo ý định"));
  const kinds = [["fallback_rate", "bar-fallback", "không hiểu"], ["clarify_rate", "bar-clarify", "hỏi lại"],
    ["handoff_rate", "bar-handoff", "chuyển nhân viên"]];
  top.forEach((row, i) => {
    const y = 10 + i * rowH;
    root.append(svg("text", { x: left - 6, y: y + bar * 2, "text-anchor": "end" }, row.intent));
    kinds.forEach(([key, cls], k) => {
      const w = Math.max(0, row[key]) * width;
      const rect = svg("rect", { x: left, y: y + k * bar, width: w.toFixed(1), height: bar - 1, class: cls });
      rect.append(svg("title", {}, row.intent + ": " + pct(row[key])));
      root.append(rect);
      if (row[key] > 0) root.append(svg("text", { x: left + w + 3, y: y + k * bar + bar - 1 }, pct(row[key])));
    });
  });
  const ly = height - 12;
  kinds.forEach(([, cls, label], k) => {
    root.append(svg("rect", { x: left + k * 150, y: ly - 8, width: 10, height: 10, class: cls }));
    root.append(svg("text", { x: left + k * 150 + 14, y: ly, class: "legend" }, label));
  });
  return root;
}

function cell(text, cls) { return el("td", cls, text); }

async function loadMetrics() {
  let data;
  try { data = await call("GET", DAPI + "/metrics?" + periodQuery().toString()); }
  catch (err) { notice(err.message, true); return; }
  const outcomes = Object.entries(data.outcomes).map(([k, v]) => outcomeLabel(k) + ": " + v).join(" · ");
  $("metrics-summary").textContent = data.conversations + " hội thoại. " + outcomes;
  $("metrics-chart").replaceChildren(chart(data.intents));
  const body = $("metrics-table").querySelector("tbody");
  body.replaceChildren();
  for (const row of data.intents) {
    const tr = el("tr");
    tr.dataset.intent = row.intent;
    tr.append(cell(row.intent), cell(String(row.messages), "num"),
      cell(pct(row.fallback_rate) + " (" + row.fallbacks + ")", "num"),
      cell(pct(row.clarify_rate) + " (" + row.clarified + ")", "num"),
      cell(String(row.conversations), "num"),
      cell(pct(row.handoff_rate) + " (" + row.handoffs + ")", "num"));
    body.append(tr);
  }
  const flows = $("flows-table").querySelector("tbody");
  flows.replaceChildren();
  for (const f of data.flows) {
    const tr = el("tr");
    tr.append(cell(f.flow), cell(String(f.started), "num"),
      cell(f.abandoned + " (" + pct(f.abandon_rate) + ")", "num"),
      cell(f.slots.map((s) => s.slot + ": " + s.count).join(", ") || "—"));
    flows.append(tr);
  }
}

// ---------------------------------------------------------------- pending changes
async function refreshChangesCount() {
  try {
    const data = await call("GET", DAPI + "/changes");
    $("changes-count").textContent = String(data.changes.length);
    return data;
  } catch (err) { return null; }
}

async function loadChanges() {
  const data = await refreshChangesCount();
  if (!data) return;
  $("changes-folder").textContent = data.folder;
  const list = $("changes");
  list.replaceChildren();
  $("changes-empty").hidden = data.changes.length > 0;
  for (const change of data.changes) {
    const item = el("li", "change");
    item.dataset.id = change.id;
    item.append(el("strong", null, change.id + " · " + change.kind + " · " + change.author));
    item.append(el("pre", "diff", change.diff));
    for (const f of change.flags) item.append(el("p", "flag " + f.level, f.message));
    const discard = el("button", "secondary", "Bỏ thay đổi này");
    discard.type = "button";
    discard.addEventListener("click", async () => {
      try { await call("POST", DAPI + "/changes/" + change.id + "/discard", {}); await loadChanges(); }
      catch (err) { notice(err.message, true); }
    });
    item.append(discard);
    list.append(item);
  }
}

// ---------------------------------------------------------------- start
(async function start() {
  $("f-since").value = localDate(-6);
  $("f-until").value = localDate(0);
  try {
    const me = await call("GET", API + "/me");
    if (!me.roles.includes("designer")) {
      notice("Tài khoản này chưa có quyền người thiết kế (designer).", true);
      showLogin();
      return;
    }
    await showDesigner(me.agent);
  } catch (err) {
    showLogin();
  }
})();
