// emu web view: reload the page every few seconds while "live" is ticked
// (remembered per browser). No framework, no build step.
(function () {
  var box = document.getElementById("live");
  if (!box) return;
  box.checked = window.localStorage.getItem("emu-live") === "1";
  var timer = null;
  function arm() {
    if (timer) window.clearTimeout(timer);
    timer = box.checked ? window.setTimeout(function () { window.location.reload(); }, 5000) : null;
  }
  box.addEventListener("change", function () {
    window.localStorage.setItem("emu-live", box.checked ? "1" : "0");
    arm();
  });
  arm();
})();
