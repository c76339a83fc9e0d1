// The page's one script, served as /page.js (included at compile time).
// Choosing a scenario loads it; choosing an operation re-runs the form with
// that operation charted.
document.addEventListener('DOMContentLoaded', function () {
  var scenario = document.getElementById('scenario');
  if (scenario) {
    scenario.addEventListener('change', function () {
      location.href = '/?scenario=' + encodeURIComponent(scenario.value);
    });
  }
  var hidden = document.getElementById('op_hidden');
  var op = document.getElementById('op');
  var show = document.getElementById('show');
  if (op && hidden) {
    op.addEventListener('change', function () {
      hidden.disabled = true;
      op.form.submit();
    });
  }
  if (show && hidden) {
    show.addEventListener('click', function () {
      hidden.disabled = true;
    });
  }
  // A problem that names a line of the scenario text ("scenario.toml:12:3:")
  // selects that line in the editor, and each such place in the list of
  // problems selects its own line when clicked.
  var toml = document.getElementById('toml');
  var errors = document.getElementById('errors');
  if (toml && errors) {
    var place = /\.toml:(\d+):(\d+)/;
    var select = function (line) {
      var lines = toml.value.split('\n');
      if (line < 1 || line > lines.length) { return; }
      var start = 0;
      for (var i = 0; i < line - 1; i++) { start += lines[i].length + 1; }
      toml.focus();
      toml.setSelectionRange(start, start + lines[line - 1].length);
      var height = toml.scrollHeight / Math.max(lines.length, 1);
      toml.scrollTop = Math.max(0, (line - 4) * height);
      toml.dataset.errorLine = String(line);
      toml.classList.add('has-error');
    };
    var first = null;
    errors.querySelectorAll('li').forEach(function (li) {
      var m = place.exec(li.textContent);
      if (!m) { return; }
      var line = parseInt(m[1], 10);
      if (first === null) { first = line; }
      li.classList.add('at-line');
      li.title = 'select line ' + line + ' in the scenario text';
      li.addEventListener('click', function () { select(line); });
    });
    if (first !== null) { select(first); }
  }
  // The permalink and the download link follow the text as it is edited.
  var permalink = document.getElementById('permalink');
  var download = document.getElementById('download');
  if (toml && permalink && download) {
    toml.addEventListener('input', function () {
      var q = encodeURIComponent(toml.value);
      permalink.href = '/?text=' + q;
      download.href = '/download?text=' + q;
    });
  }
});
