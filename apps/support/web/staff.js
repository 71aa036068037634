/* The staff desk: refunds waiting for approval (approve / deny resumes the run) and escalations. */
"use strict";

(() => {
  const { el, setSafeHtml, api, money, timeAgo, initials } = Support;
  const $ = (id) => document.getElementById(id);
  const KEY = "keel-support-staff-key";
  const openTranscripts = new Set();
  let timer = null;

  function headers() {
    const key = sessionStorage.getItem(KEY);
    return key ? { Authorization: `Bearer ${key}` } : {};
  }

  function toast(text) {
    const t = $("toast");
    t.textContent = text;
    t.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => (t.hidden = true), 3500);
  }

  function customerBlock(name, id, tier) {
    return el("div", { class: "customer" }, el("span", { class: "avatar", text: initials(name) }),
      el("span", {}, el("strong", { text: name }), el("small", { text: `${id}${tier ? " · " + tier : ""}` })));
  }

  function approvalCard(a) {
    const args = a.arguments || {};
    const note = el("input", { placeholder: "Note for the record (optional)", maxlength: 500, "aria-label": "Decision note" });
    const approve = el("button", { type: "button", class: "approve", text: "Approve refund" });
    const deny = el("button", { type: "button", class: "deny", text: "Deny" });
    const card = el("li", { class: "card ticket approval", "data-run-id": a.run_id },
      el("div", { class: "head" }, customerBlock(a.customer_name, a.customer_id, a.tier),
        el("span", { class: "pill waiting", text: "Needs approval" })),
      el("div", { class: "amount", text: money(args.amount) }),
      el("dl", { class: "facts" },
        el("dt", { text: "Order" }), el("dd", { text: args.order_id || "" }),
        el("dt", { text: "Action" }), el("dd", { text: a.tool.replaceAll("_", " ") }),
        el("dt", { text: "Requested" }), el("dd", { text: timeAgo(a.requested) })),
      el("p", { class: "quote", text: a.message }),
      el("div", { class: "actions" }, note, deny, approve));
    const decide = async (approved) => {
      approve.disabled = deny.disabled = true;
      try {
        await api(`/support/api/approvals/${encodeURIComponent(a.run_id)}`, {
          method: "POST", headers: headers(), body: { approve: approved, call_id: a.call_id, reason: note.value },
        });
        card.remove();
        toast(approved ? `Approved ${money(args.amount)} for ${a.customer_name}` : `Denied the refund for ${a.customer_name}`);
        refresh();
      } catch (err) {
        approve.disabled = deny.disabled = false;
        toast(err.message);
      }
    };
    approve.addEventListener("click", () => decide(true));
    deny.addEventListener("click", () => decide(false));
    return card;
  }

  function transcript(turns) {
    const list = el("ol", { class: "transcript" });
    for (const t of turns) {
      list.append(el("li", {}, el("span", { class: "who-said", text: "Customer" }), el("span", { class: "said", text: t.message })));
      const said = el("div", { class: "said" });
      setSafeHtml(said, t.html || "<p>…</p>");
      list.append(el("li", {}, el("span", { class: "who-said", text: "Assistant" }), said));
    }
    return list;
  }

  function escalationCard(e) {
    const slot = el("div");
    const toggle = el("button", { type: "button", class: "ghost", text: "View conversation" });
    const load = async () => {
      try {
        const conv = await api(`/support/api/conversation?session_id=${encodeURIComponent(e.session_id)}`, { headers: headers() });
        slot.replaceChildren(transcript(conv.turns));
        toggle.textContent = "Hide conversation";
      } catch (err) {
        slot.replaceChildren(el("p", { class: "muted small", text: err.message }));
      }
    };
    toggle.addEventListener("click", () => {
      if (openTranscripts.has(e.id)) {
        openTranscripts.delete(e.id);
        slot.replaceChildren();
        toggle.textContent = "View conversation";
      } else {
        openTranscripts.add(e.id);
        load();
      }
    });
    if (openTranscripts.has(e.id)) load();
    return el("li", { class: "card ticket escalation", "data-escalation-id": e.id },
      el("div", { class: "head" }, customerBlock(e.customer_name, e.customer_id, e.tier),
        el("span", { class: "pill human", text: "Waiting" })),
      el("dl", { class: "facts" },
        el("dt", { text: "Reason" }), el("dd", { text: e.reason }),
        el("dt", { text: "Since" }), el("dd", { text: timeAgo(e.created) })),
      e.session_id ? el("div", { class: "actions" }, toggle) : null,
      slot);
  }

  function render(q) {
    $("key-panel").hidden = true;
    $("count-approvals").textContent = q.approvals.length;
    $("count-escalations").textContent = q.escalations.length;
    $("threshold").textContent = `Refunds over ${money(q.threshold)} need a supervisor`;
    $("approvals").replaceChildren(...q.approvals.map(approvalCard));
    $("approvals-empty").hidden = q.approvals.length > 0;
    $("escalations").replaceChildren(...q.escalations.slice().reverse().map(escalationCard));
    $("escalations-empty").hidden = q.escalations.length > 0;
    $("updated").textContent = `Updated ${new Date().toLocaleTimeString()}`;
  }

  async function refresh() {
    clearTimeout(timer);
    const busy = document.activeElement && document.activeElement.closest(".approval");
    try {
      if (!busy) render(await api("/support/api/queue", { headers: headers() }));
    } catch (err) {
      if (err.status === 401 || err.status === 403) {
        $("key-panel").hidden = false;
        if (sessionStorage.getItem(KEY)) {
          $("key-error").textContent = err.message;
          $("key-error").hidden = false;
        }
        return;
      }
      toast(err.message);
    }
    timer = setTimeout(refresh, 3000);
  }

  $("key-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(KEY, $("api-key").value.trim());
    $("key-error").hidden = true;
    refresh();
  });

  refresh();
})();
