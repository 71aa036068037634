/* The customer chat: demo sign-in, streamed answers, and updates when a supervisor decides. */
"use strict";

(() => {
  const { el, setSafeHtml, api, postStream, money, initials } = Support;
  const $ = (id) => document.getElementById(id);
  const messages = $("messages");
  const input = $("message");
  const sendButton = $("send");
  const shown = new Map(); // run id -> { node, status }
  let pollTimer = null;
  let busy = false;

  function showLogin() {
    $("login").hidden = false;
    $("chat-layout").hidden = true;
    $("who").hidden = true;
    $("customer-id").focus();
  }

  function showChat(me) {
    $("login").hidden = true;
    $("chat-layout").hidden = false;
    $("who").hidden = false;
    $("who-name").textContent = me.name;
    $("who-id").textContent = `${me.customer_id}${me.tier ? " · " + me.tier : ""}`;
    $("who-initials").textContent = initials(me.name);
    const orders = $("orders");
    orders.replaceChildren(
      ...me.orders.map((o) =>
        el("li", {},
          el("div", { class: "top" }, el("strong", { text: o.id }), el("span", { class: "pill", text: o.status })),
          el("div", { class: "items", text: `${o.placed || ""} · ${money(o.total)} · ${o.items.join(", ")}` }),
        ),
      ),
    );
    for (const old of messages.querySelectorAll(".msg:not(.intro)")) old.remove();
    shown.clear();
    for (const turn of me.turns || []) {
      addUser(turn.message);
      renderTurn(addBot(), turn);
    }
    $("suggestions").hidden = (me.turns || []).length > 0;
    input.focus();
    schedulePoll();
  }

  function scrollDown() {
    messages.scrollTop = messages.scrollHeight;
  }

  function addUser(text) {
    const node = el("li", { class: "msg user" }, el("div", { class: "bubble", text }));
    messages.append(node);
    scrollDown();
    return node;
  }

  function addBot() {
    const bubble = el("div", { class: "bubble streaming" });
    const typing = el("div", { class: "typing" }, el("span", { class: "dots" }, el("i"), el("i"), el("i")),
      el("span", { class: "typing-text", text: "Thinking" }));
    bubble.append(typing);
    const node = el("li", { class: "msg bot" }, bubble, el("div", { class: "meta" }));
    messages.append(node);
    scrollDown();
    return node;
  }

  function statusPill(turn) {
    if (turn.waiting_approval) return el("span", { class: "pill waiting", text: "Waiting for supervisor approval" });
    if (turn.approved === true) return el("span", { class: "pill approved", text: "Approved by a supervisor" });
    if (turn.approved === false) return el("span", { class: "pill denied", text: "Declined by a supervisor" });
    if (turn.escalated) return el("span", { class: "pill human", text: "A colleague will follow up" });
    return null;
  }

  /** Show a finished (or waiting) turn: the server's sanitised HTML replaces the streamed text. */
  function renderTurn(node, turn) {
    const previous = shown.get(turn.run_id);
    const bubble = node.querySelector(".bubble");
    bubble.classList.remove("streaming");
    setSafeHtml(bubble, turn.html || "<p>…</p>");
    if (previous && previous.status === "suspended" && turn.status === "finished") {
      const note = turn.approved === false ? "Update: a supervisor reviewed your request." : "Update: your request was approved.";
      bubble.prepend(el("p", { class: `update${turn.approved === false ? " denied" : ""}`, text: note }));
    }
    node.dataset.runId = turn.run_id;
    node.dataset.status = turn.status;
    node.querySelector(".meta").replaceChildren(...[statusPill(turn)].filter(Boolean));
    shown.set(turn.run_id, { node, status: turn.status });
    scrollDown();
  }

  async function send(text) {
    if (busy || !text.trim()) return;
    busy = true;
    sendButton.disabled = true;
    $("suggestions").hidden = true;
    addUser(text);
    input.value = "";
    const node = addBot();
    const bubble = node.querySelector(".bubble");
    let streamed = "";
    try {
      await postStream("/support/api/chat", { message: text }, (name, data) => {
        if (name === "status") {
          const t = node.querySelector(".typing-text");
          if (t) t.textContent = data.text;
        } else if (name === "delta") {
          streamed += data.text;
          bubble.textContent = streamed; // model text is shown as text until the server renders it
          scrollDown();
        } else if (name === "answer") {
          renderTurn(node, data);
        } else if (name === "error") {
          bubble.classList.remove("streaming");
          bubble.textContent = data.message;
        }
      });
    } catch (err) {
      if (err.status === 401) return showLogin();
      bubble.classList.remove("streaming");
      bubble.textContent = err.message || "Something went wrong. Please try again.";
    } finally {
      busy = false;
      sendButton.disabled = false;
      input.focus();
      schedulePoll();
    }
  }

  /** While a refund waits for a supervisor, check for the decision every few seconds. */
  function schedulePoll() {
    clearTimeout(pollTimer);
    const open = [...shown.values()].some((t) => t.status === "suspended" || t.status === "running");
    if (open) pollTimer = setTimeout(poll, 1500);
  }

  async function poll() {
    try {
      const { turns } = await api("/support/api/history");
      for (const turn of turns) {
        const seen = shown.get(turn.run_id);
        if (seen && seen.status !== turn.status && turn.status !== "running") renderTurn(seen.node, turn);
        else if (seen && turn.status === "running") seen.status = "running";
      }
    } catch (err) {
      if (err.status === 401) return showLogin();
    }
    schedulePoll();
  }

  async function signIn(customerId) {
    const me = await api("/support/api/login", { method: "POST", body: { customer_id: customerId } });
    showChat({ ...me, turns: [] });
  }

  $("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const error = $("login-error");
    error.hidden = true;
    try {
      await signIn($("customer-id").value);
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
    }
  });
  $("composer").addEventListener("submit", (ev) => {
    ev.preventDefault();
    send(input.value);
  });
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey) {
      ev.preventDefault();
      send(input.value);
    }
  });
  input.addEventListener("input", () => {
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight, 140)}px`;
  });
  for (const chip of document.querySelectorAll("#suggestions .chip")) {
    chip.addEventListener("click", () => send(chip.textContent));
  }
  $("new-chat").addEventListener("click", async () => {
    const id = $("who-id").textContent.split(" ")[0];
    await signIn(id);
  });
  $("sign-out").addEventListener("click", async () => {
    await api("/support/api/logout", { method: "POST" });
    clearTimeout(pollTimer);
    showLogin();
  });

  api("/support/api/me").then(showChat, (err) => {
    if (err.status === 401) showLogin();
    else {
      $("login").hidden = false;
      const error = $("login-error");
      error.textContent = err.message;
      error.hidden = false;
    }
  });
})();
