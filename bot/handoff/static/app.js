// Agent console: plain JavaScript, no build step. Text from the server is always inserted
// with textContent (never innerHTML), so customer messages cannot inject markup.
"use strict";

const QUEUE_EVERY_MS = 3000;
const TICKET_EVERY_MS = 2000;

const state = { agent: null, ticket: null, maskedPhone: null, lastMessageId: 0, timers: [] };

function waitingText(seconds) {
  if (seconds < 60) return "chờ " + seconds + " giây";
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return "chờ " + minutes + " phút";
  return "chờ " + Math.floor(minutes / 60) + " giờ " + (minutes % 60) + " phút";
}

function timeText(iso) {
  if (!iso) return "";
  // The desk works on Vietnam time whatever the agent's computer says.
  return new Date(iso).toLocaleTimeString("vi-VN",
    { hour: "2-digit", minute: "2-digit", timeZone: "Asia/Ho_Chi_Minh" });
}

// ---------------------------------------------------------------- login
function showLogin() {
  stopTimers();
  state.agent = null;
  $("desk-view").hidden = true;
  $("whoami").hidden = true;
  $("login-view").hidden = false;
  $("login-name").focus();
}

async function showDesk(agent) {
  state.agent = agent;
  $("agent-name").textContent = agent;
  $("login-view").hidden = true;
  $("whoami").hidden = false;
  $("desk-view").hidden = false;
  await refreshQueue();
  stopTimers();
  state.timers.push(setInterval(refreshQueue, QUEUE_EVERY_MS));
  state.timers.push(setInterval(refreshTicket, TICKET_EVERY_MS));
}

function stopTimers() {
  state.timers.forEach(clearInterval);
  state.timers = [];
}

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("login-error").hidden = true;
  try {
    const data = await call("POST", "/login",
      { name: $("login-name").value.trim(), password: $("login-password").value });
    $("login-password").value = "";
    await showDesk(data.agent);
  } catch (err) {
    $("login-error").textContent = err.message;
    $("login-error").hidden = false;
  }
});

$("logout").addEventListener("click", async () => {
  try { await call("POST", "/logout", {}); } catch (err) { /* already signed out */ }
  state.ticket = null;
  showLogin();
});

// ---------------------------------------------------------------- queue
function ticketItem(t) {
  const item = el("li", "ticket-item" + (t.urgent ? " urgent" : ""));
  item.dataset.id = t.id;
  if (state.ticket && state.ticket.id === t.id) item.classList.add("selected");
  const line1 = el("div", "line1");
  line1.append(el("strong", null, "#" + t.id + " " + t.reason_label));
  if (t.urgent) line1.append(el("span", "badge urgent", "KHẨN"));
  item.append(line1);
  const who = t.agent ? " · " + t.agent : "";
  item.append(el("div", "sub", t.channel_label + " · " + t.status_label + who));
  item.append(el("div", "sub waiting", t.closed_at ? "đóng lúc " + timeText(t.closed_at)
                                                    : waitingText(t.waiting_seconds)));
  item.addEventListener("click", () => openTicket(t.id));
  return item;
}

async function refreshQueue() {
  let data;
  try { data = await call("GET", "/queue"); } catch (err) { return; }
  $("queue").replaceChildren(...data.tickets.map(ticketItem));
  $("closed").replaceChildren(...data.closed.map(ticketItem));
  $("queue-count").textContent = data.tickets.length;
  $("queue-empty").hidden = data.tickets.length > 0;
}

// ---------------------------------------------------------------- ticket
const ROLE_LABELS = { customer: "Khách", bot: "Trợ lý ảo", system: "Hệ thống" };

function messageItem(m) {
  const item = el("li", "msg " + m.role);
  item.dataset.id = m.id;
  const who = m.role === "agent" ? "Tổng đài viên " + (m.author || "") : ROLE_LABELS[m.role];
  item.append(el("span", "who", who + " · " + timeText(m.at)));
  item.append(el("span", "text", m.text));
  if (m.role === "agent" && m.delivery === "failed") {
    item.append(el("span", "failed", " (chưa gửi được tới khách)"));
  }
  return item;
}

function appendMessages(messages) {
  const list = $("transcript");
  for (const m of messages) {
    if (m.id <= state.lastMessageId) continue;
    list.append(messageItem(m));
    state.lastMessageId = m.id;
  }
  list.scrollTop = list.scrollHeight;
}

function renderTicket(t) {
  state.ticket = t;
  $("ticket-title").textContent = "Yêu cầu #" + t.id + " – " + t.reason_label;
  const status = $("ticket-status");
  status.textContent = t.status_label + (t.agent ? " (" + t.agent + ")" : "");
  status.className = "badge" + (t.urgent ? " urgent" : "");
  // The masked number comes with the (audited) detail view only; polls do not repeat it.
  const phone = state.maskedPhone ? " · Số đã xác thực: " + state.maskedPhone : "";
  $("ticket-meta").textContent = t.channel_label + " · mở lúc " + timeText(t.created_at) +
    (t.closed_at ? "" : " · " + waitingText(t.waiting_seconds)) + phone;
  $("ticket-summary").textContent = t.summary;
  const active = t.status === "waiting" || t.status === "open";
  const mine = t.status === "open" && t.agent === state.agent;
  $("btn-claim").disabled = t.status !== "waiting";
  $("reply-send").disabled = !(t.status === "waiting" || mine);
  $("reply-text").disabled = !(t.status === "waiting" || mine);
  $("btn-resolve").disabled = !(t.status === "waiting" || mine);
  $("btn-handback").disabled = !(t.status === "waiting" || mine);
  if (!active) $("reply-text").placeholder = "Yêu cầu đã đóng.";
  else if (!mine && t.status === "open") $("reply-text").placeholder = "Yêu cầu đang do " + t.agent + " xử lý.";
  else $("reply-text").placeholder = "Nhập nội dung trả lời khách…";
}

async function openTicket(id) {
  notice("");
  let data;
  try { data = await call("GET", "/tickets/" + id); } catch (err) { notice(err.message, true); return; }
  state.lastMessageId = 0;
  state.maskedPhone = data.ticket.msisdn_masked;
  $("transcript").replaceChildren();
  renderTicket(data.ticket);
  const rows = data.profile.map((p) => {
    const tr = el("tr");
    tr.append(el("th", null, p.label), el("td", null, p.value));
    return tr;
  });
  $("profile").tBodies[0].replaceChildren(...rows);
  $("profile-empty").hidden = rows.length > 0;
  $("ticket-paused-warning").hidden = !(data.paused === false &&
    (data.ticket.status === "waiting" || data.ticket.status === "open"));
  appendMessages(data.messages);
  $("no-ticket").hidden = true;
  $("ticket").hidden = false;
  document.querySelectorAll(".ticket-item").forEach((n) =>
    n.classList.toggle("selected", Number(n.dataset.id) === id));
}

async function refreshTicket() {
  if (!state.ticket) return;
  let data;
  try {
    data = await call("GET", "/tickets/" + state.ticket.id + "/messages?after=" + state.lastMessageId);
  } catch (err) { return; }
  renderTicket(data.ticket);
  appendMessages(data.messages);
}

async function act(path, body, doneText) {
  if (!state.ticket) return;
  notice("");
  try {
    const data = await call("POST", "/tickets/" + state.ticket.id + path, body);
    if (data.ticket) renderTicket(data.ticket);
    if (data.warning) notice(data.warning, true); else if (doneText) notice(doneText);
    await refreshTicket();
    await refreshQueue();
    return data;
  } catch (err) {
    notice(err.message, true);
    if (err.data && err.data.ticket) renderTicket(err.data.ticket);
    return null;
  }
}

$("reply-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = $("reply-text").value.trim();
  if (!text) { notice("Vui lòng nhập nội dung trả lời.", true); return; }
  $("reply-send").disabled = true;
  const data = await act("/reply", { text });
  if (data) $("reply-text").value = "";
  $("reply-send").disabled = false;
});

$("reply-text").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    $("reply-form").requestSubmit();
  }
});

$("btn-claim").addEventListener("click", () => act("/claim", {}, "Đã nhận xử lý yêu cầu."));
$("btn-resolve").addEventListener("click", () =>
  act("/resolve", { version: state.ticket.version }, "Đã đóng yêu cầu."));
$("btn-handback").addEventListener("click", () =>
  act("/hand-back", { version: state.ticket.version }, "Đã chuyển khách lại cho trợ lý ảo."));

// ---------------------------------------------------------------- start
(async () => {
  try {
    const data = await call("GET", "/me");
    await showDesk(data.agent);
  } catch (err) {
    showLogin();
  }
})();
