// Review desk (Decree-49 update requests): plain JavaScript, no build step. Everything the
// server sends is inserted with textContent (never innerHTML). Photos are loaded from the
// console API with the session cookie; the server marks them no-store.
"use strict";

const QUEUE_EVERY_MS = 10000;

const state = { agent: null, requestId: null, version: null, requests: [], clockSkewMs: 0,
                timers: [] };

function dateTimeText(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleString("vi-VN", { hour: "2-digit", minute: "2-digit",
    day: "2-digit", month: "2-digit", year: "numeric", timeZone: "Asia/Ho_Chi_Minh" });
}

function countdownText(dueIso) {
  const ms = new Date(dueIso).getTime() - (Date.now() + state.clockSkewMs);
  const minutes = Math.floor(Math.abs(ms) / 60000);
  const span = Math.floor(minutes / 60) + " giờ " + (minutes % 60) + " phút";
  return ms >= 0 ? "còn " + span : "quá hạn " + span;
}

// ---------------------------------------------------------------- login
function stopTimers() { state.timers.forEach(clearInterval); state.timers = []; }

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
  state.timers.push(setInterval(tick, 1000));
}

async function start() {
  try {
    const me = await call("GET", "/me");
    if (!me.roles.includes("reviewer")) {
      showLogin();
      notice("Tài khoản " + me.agent + " chưa có quyền duyệt hồ sơ (vai trò reviewer).", true);
      return;
    }
    await showDesk(me.agent);
  } catch (err) {
    if (err.status !== 401) notice(err.message, true);
    showLogin();
  }
}

// ---------------------------------------------------------------- queue
async function refreshQueue() {
  let data;
  try {
    data = await call("GET", "/review/queue");
  } catch (err) {
    if (err.status && err.status !== 401) notice(err.message, true);
    return;
  }
  state.clockSkewMs = new Date(data.now).getTime() - Date.now();
  state.requests = data.requests;
  fillReasons(data.reasons);
  const list = $("queue");
  list.replaceChildren();
  for (const item of data.requests) {
    const li = el("li", "ticket-item" + (item.overdue ? " overdue" : ""));
    li.dataset.id = item.id;
    li.tabIndex = 0;
    li.appendChild(el("strong", null, "Hồ sơ #" + item.id));
    li.appendChild(el("div", "muted", "Gửi " + dateTimeText(item.submitted_at) + " · " + item.channel_label));
    const countdown = el("div", "countdown" + (item.overdue ? " overdue-text" : ""),
                         countdownText(item.due_at));
    countdown.dataset.due = item.due_at;
    li.appendChild(countdown);
    li.addEventListener("click", () => openRequest(item.id));
    li.addEventListener("keydown", (e) => { if (e.key === "Enter") openRequest(item.id); });
    list.appendChild(li);
  }
  $("queue-count").textContent = String(data.requests.length);
  $("queue-empty").hidden = data.requests.length > 0;
}

function tick() {
  for (const node of document.querySelectorAll(".countdown[data-due]")) {
    node.textContent = countdownText(node.dataset.due);
  }
}

function fillReasons(reasons) {
  const select = $("reject-reason");
  if (select.options.length === reasons.length) return;
  select.replaceChildren();
  for (const reason of reasons) {
    const option = el("option", null, reason.label);
    option.value = reason.code;
    select.appendChild(option);
  }
}

// ---------------------------------------------------------------- one request
function fillTable(id, rows) {
  const body = $(id).querySelector("tbody");
  body.replaceChildren();
  for (const row of rows) {
    const tr = el("tr");
    tr.appendChild(el("td", null, row.label));
    tr.appendChild(el("td", null, row.value));
    body.appendChild(tr);
  }
}

async function openRequest(id, keepNotice) {
  let data;
  try {
    data = await call("GET", "/review/requests/" + id);
  } catch (err) {
    notice(err.message, true);
    return;
  }
  if (!keepNotice) notice("");
  const request = data.request;
  state.requestId = request.id;
  state.version = request.version;
  $("no-request").hidden = true;
  $("request").hidden = false;
  $("request-title").textContent = "Hồ sơ #" + request.id + " · thuê bao " + data.msisdn_masked;
  $("request-status").textContent = request.status_label;
  $("request-meta").textContent = "Gửi " + dateTimeText(request.submitted_at) + " qua " +
    request.channel_label + " · hạn " + dateTimeText(request.due_at) +
    (request.status === "pending" ? " (" + countdownText(request.due_at) + ")" : "");
  fillTable("fields", data.fields);
  $("fields-empty").hidden = data.fields.length > 0;
  fillTable("current", data.current);
  const photos = $("photos");
  photos.replaceChildren();
  for (const photo of data.photos) {
    const figure = el("figure");
    const img = el("img");
    img.alt = photo.label;
    img.dataset.kind = photo.kind;
    img.src = photo.url;
    figure.appendChild(img);
    figure.appendChild(el("figcaption", null, photo.label));
    photos.appendChild(figure);
  }
  $("photos-empty").hidden = data.photos.length > 0;
  const history = $("history");
  history.replaceChildren();
  for (const old of data.history) {
    history.appendChild(el("li", null, "#" + old.id + " · " + dateTimeText(old.submitted_at) +
      " · " + old.status_label + (old.reject_reason_label ? " (" + old.reject_reason_label + ")" : "")));
  }
  $("history-empty").hidden = data.history.length > 0;
  const pending = request.status === "pending";
  $("decision").hidden = !pending;
  $("decided").hidden = pending;
  $("decided").textContent = pending ? "" : request.status_label + " bởi " + (request.decided_by || "-");
  $("reject-note").value = "";
}

async function decide(approve) {
  if (state.requestId === null) return;
  const id = state.requestId;
  const body = { version: state.version };
  if (!approve) {
    body.reason = $("reject-reason").value;
    body.note = $("reject-note").value;
  }
  $("btn-approve").disabled = $("btn-reject").disabled = true;
  try {
    const data = await call("POST", "/review/requests/" + id + (approve ? "/approve" : "/reject"), body);
    notice("Hồ sơ #" + id + ": " + data.request.status_label + ". Đã báo khách qua " + data.notified_label + ".");
    await openRequest(id, true);
  } catch (err) {
    notice(err.message, true);
    if (err.status === 409) await openRequest(id, true);
  } finally {
    $("btn-approve").disabled = $("btn-reject").disabled = false;
    await refreshQueue();
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", logout);
  $("btn-approve").addEventListener("click", () => decide(true));
  $("btn-reject").addEventListener("click", () => decide(false));
  start();
});
