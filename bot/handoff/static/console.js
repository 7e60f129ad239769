// Shared by every console page (agent desk, review desk, designers' inbox, campaigns):
// plain JavaScript, no build step, loaded before the page's own script. Text from the
// server is always inserted with textContent (never innerHTML).
"use strict";

const API = "/console/api";
const $ = (id) => document.getElementById(id);

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

function notice(text, bad) {
  const box = $("notice");
  if (!text) { box.hidden = true; return; }
  box.textContent = text;
  box.className = bad ? "bad" : "";
  box.hidden = false;
}

// A JSON call to the console API (`path` below /console/api, or the whole path). A 401
// shows the page's login form (each page defines showLogin()).
async function call(method, path, body) {
  const url = path.startsWith(API) ? path : API + path;
  const options = { method, headers: { "Accept": "application/json" }, credentials: "same-origin" };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, options);
  } catch (err) {
    throw { status: 0, message: "Mất kết nối tới máy chủ. Đang thử lại…" };
  }
  let data = {};
  try { data = await response.json(); } catch (err) { data = {}; }
  if (response.status === 401 && !url.endsWith("/login")) { showLogin(); }
  if (!response.ok) {
    throw { status: response.status, message: data.message || "Có lỗi xảy ra.", data };
  }
  return data;
}

// Sign-in and sign-out of the review desk and campaigns pages (each defines start() and
// showLogin()).
async function login(event) {
  event.preventDefault();
  $("login-error").hidden = true;
  try {
    await call("POST", "/login", { name: $("login-name").value, password: $("login-password").value });
    $("login-password").value = "";
    notice("");
    await start();
  } catch (err) {
    $("login-error").textContent = err.message;
    $("login-error").hidden = false;
  }
}

async function logout() {
  try { await call("POST", "/logout", {}); } catch (err) { /* signed out anyway */ }
  showLogin();
}
