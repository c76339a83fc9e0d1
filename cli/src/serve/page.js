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
});
