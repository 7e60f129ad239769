// Campaigns page (role campaigns): plain JavaScript, no build step. Everything the server
// sends is inserted with textContent (never innerHTML). Only counts are shown.
"use strict";

const REFRESH_MS = 15000;
const ITEM_LABELS = {
  full_name: "Họ tên", name_match: "Tên khớp giấy tờ", birth_date: "Ngày sinh",
  gender: "Giới tính", nationality: "Quốc tịch", address: "Địa chỉ",
  id_document: "Giấy tờ tùy thân", id_issue: "Ngày/nơi cấp",
  id_front_photo: "Ảnh mặt trước", id_back_photo: "Ảnh mặt sau", portrait_photo: "Ảnh chân dung",
};
const ACTIONS = {
  draft: [["start", "Bắt đầu"]],
  running: [["pause", "Tạm dừng"]],
  paused: [["resume", "Tiếp tục"]],
  done: [],
};

const state = { timer: null, itemsShown: false, reportId: null };

function showLogin() {
  if (state.timer) clearInterval(state.timer);
  $("desk-view").hidden = true;
  $("whoami").hidden = true;
  $("login-view").hidden = false;
}

async function showDesk(agent) {
  $("agent-name").textContent = agent;
  $("login-view").hidden = true;
  $("whoami").hidden = false;
  $("desk-view").hidden = false;
  await refresh();
  if (state.timer) clearInterval(state.timer);
  state.timer = setInterval(refresh, REFRESH_MS);
}

async function start() {
  try {
    const me = await call("GET", "/me");
    if (!me.roles.includes("campaigns")) {
      showLogin();
      notice("Tài khoản " + me.agent + " chưa có quyền quản lý chiến dịch (vai trò campaigns).", true);
      return;
    }
    await showDesk(me.agent);
  } catch (err) {
    if (err.status !== 401) notice(err.message, true);
    showLogin();
  }
}

function showItems(items) {
  if (state.itemsShown) return;
  const box = $("c-missing");
  for (const code of items) {
    const label = el("label", "inline");
    const box2 = el("input");
    box2.type = "checkbox";
    box2.value = code;
    box2.className = "c-item";
    label.append(box2, " " + (ITEM_LABELS[code] || code));
    box.append(label);
  }
  state.itemsShown = true;
}

async function refresh() {
  let data;
  try { data = await call("GET", "/campaigns"); } catch (err) { notice(err.message, true); return; }
  showItems(data.items);
  const body = $("campaigns").querySelector("tbody");
  body.replaceChildren();
  $("campaigns-empty").hidden = data.campaigns.length > 0;
  for (const c of data.campaigns) {
    const row = el("tr");
    row.dataset.id = c.id;
    const n = c.numbers;
    row.append(el("td", "num", String(c.id)), el("td", "name", c.name),
               el("td", "status", c.status_label), el("td", "num", String(n.targeted)),
               el("td", "num", String(n.sent)), el("td", "num", String(n.replied)),
               el("td", "num", String(n.update_submitted)), el("td", "num", String(n.approved)));
    const actions = el("td");
    for (const [action, label] of ACTIONS[c.status] || []) {
      const button = el("button", "action-" + action, label);
      button.type = "button";
      button.addEventListener("click", () => change(c.id, action));
      actions.append(button);
    }
    const show = el("button", "action-report link", "Báo cáo");
    show.type = "button";
    show.addEventListener("click", () => showReport(c.id));
    actions.append(show);
    row.append(actions);
    body.append(row);
  }
  if (state.reportId !== null) await showReport(state.reportId);
}

async function change(id, action) {
  try {
    const result = await call("POST", "/campaigns/" + id + "/" + action, {});
    notice("Chiến dịch #" + id + ": " + result.status_label + ".");
  } catch (err) {
    notice(err.message, true);
  }
  await refresh();
}

async function showReport(id) {
  let data;
  try { data = await call("GET", "/campaigns/" + id + "/report"); } catch (err) { notice(err.message, true); return; }
  state.reportId = id;
  $("report").hidden = false;
  $("report-title").textContent = "Báo cáo chiến dịch #" + id + " (" + data.campaign.name + ")";
  const rows = $("report-rows").querySelector("tbody");
  rows.replaceChildren();
  for (const r of data.rows) {
    const tr = el("tr");
    tr.dataset.key = r.key;
    tr.append(el("th", null, r.label), el("td", "num", String(r.value)));
    rows.append(tr);
  }
  for (const [reason, count] of Object.entries(data.failed_reasons)) {
    const tr = el("tr");
    tr.append(el("th", "muted", "lỗi " + reason), el("td", "num", String(count)));
    rows.append(tr);
  }
  const days = $("report-days").querySelector("tbody");
  days.replaceChildren();
  for (const d of data.by_day) {
    const tr = el("tr");
    const rate = d.sent ? Math.round(100 * d.replied / d.sent) : 0;
    const bar = el("span", "bar");
    bar.style.width = rate + "px";
    const cell = el("td");
    cell.append(bar, " " + rate + "%");
    tr.append(el("td", null, d.day), el("td", "num", String(d.sent)),
              el("td", "num", String(d.replied)), el("td", "num", String(d.submitted)),
              el("td", "num", String(d.approved)), cell);
    days.append(tr);
  }
}

async function create(event) {
  event.preventDefault();
  const channels = [];
  if ($("c-telegram").checked) channels.push("telegram");
  if ($("c-zalo").checked) channels.push("zalo");
  const body = {
    name: $("c-name").value, deadline: $("c-deadline").value,
    missing: Array.from(document.querySelectorAll(".c-item:checked")).map((b) => b.value),
    province: $("c-province").value, one_way_blocked: $("c-one-way").value, channels,
    starts: $("c-starts").value || null, ends: $("c-ends").value || null,
    rate_per_minute: Number($("c-rate").value || 30),
  };
  try {
    const result = await call("POST", "/campaigns", body);
    notice("Đã tạo chiến dịch #" + result.id + " (nháp).");
    $("create-form").reset();
  } catch (err) {
    notice(err.message, true);
  }
  await refresh();
}

document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", logout);
  $("create-form").addEventListener("submit", create);
  start();
});
