// Bayline staff dashboard: the only script. It enhances server-rendered pages and never builds
// HTML from strings (Trusted Types are enforced by the CSP): text goes in through textContent.
'use strict';

(function () {
  // Forms that need an extra "are you sure?" (revoking a key) say so in data-confirm.
  document.addEventListener('submit', function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    var question = form.getAttribute('data-confirm');
    if (question && !window.confirm(question)) event.preventDefault();
  });

  var table = document.getElementById('live-calls');
  if (!table) return;
  var body = table.querySelector('tbody');
  var status = document.getElementById('live-status');
  var period = Number(table.getAttribute('data-poll-ms')) || 3000;
  var source = table.getAttribute('data-source');
  var timer = null;

  function cell(row, text) {
    var td = document.createElement('td');
    td.textContent = text;
    row.appendChild(td);
    return td;
  }

  function render(calls) {
    var rows = calls.map(function (c) {
      var tr = document.createElement('tr');
      var first = document.createElement('td');
      var link = document.createElement('a');
      link.href = '/dashboard/calls/' + encodeURIComponent(c.callSid);
      var code = document.createElement('code');
      code.textContent = c.callSid.slice(-8);
      link.appendChild(code);
      first.appendChild(link);
      tr.appendChild(first);
      cell(tr, c.startedAt ? c.startedAt.slice(11, 19) : '—');
      cell(tr, c.state + (c.speaking ? ' (agent speaking)' : ''));
      cell(tr, c.intent || '—');
      cell(tr, c.customerKnown ? 'Known customer' : 'New caller');
      return tr;
    });
    body.replaceChildren.apply(body, rows);
    var n = calls.length;
    status.textContent =
      n + (n === 1 ? ' call' : ' calls') + ' in progress · updated ' + new Date().toLocaleTimeString();
  }

  function schedule() {
    clearTimeout(timer);
    if (!document.hidden) timer = setTimeout(poll, period);
  }

  function poll() {
    fetch(source, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then(function (res) {
        if (res.status === 401) {
          window.location.assign('/dashboard/login?next=' + encodeURIComponent('/dashboard/live'));
          return null;
        }
        if (!res.ok) throw new Error('status ' + res.status);
        return res.json();
      })
      .then(function (data) {
        if (data) render(data.calls);
      })
      .catch(function () {
        status.textContent = 'Could not refresh; retrying…';
      })
      .finally(schedule);
  }

  document.addEventListener('visibilitychange', function () {
    if (!document.hidden) poll();
  });
  schedule();
})();
