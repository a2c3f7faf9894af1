// The sign-in form sends the browser's time zone, so that a new account
// reads times in its person's zone rather than UTC. Without scripts the
// field stays empty and the account keeps UTC until its person picks one.
document.querySelectorAll('input[name="browser_timezone"]').forEach(function (field) {
  try {
    field.value = Intl.DateTimeFormat().resolvedOptions().timeZone || '';
  } catch (e) {
    field.value = '';
  }
});
