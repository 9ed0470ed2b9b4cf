// Wallcast embed: <script src="https://wall.example/embed.js" data-wall="devconf" async></script>
// puts the wall in an iframe right where the script tag is; the iframe's
// height follows its content.
(function () {
  "use strict";
  var scripts = document.querySelectorAll("script[data-wall]");
  Array.prototype.forEach.call(scripts, function (script) {
    if (script.dataset.wallcastDone) return;
    script.dataset.wallcastDone = "1";
    var origin = new URL(script.src, location.href).origin;
    var frame = document.createElement("iframe");
    frame.src = origin + "/walls/" + encodeURIComponent(script.dataset.wall) + "/embed";
    frame.title = script.dataset.title || "Social wall";
    frame.loading = "lazy";
    frame.style.cssText = "width:100%;border:0;display:block;background:transparent;height:" + (script.dataset.height || "600") + "px";
    frame.setAttribute("allowtransparency", "true");
    window.addEventListener("message", function (e) {
      if (e.origin !== origin || e.source !== frame.contentWindow) return;
      var d = e.data;
      if (d && d.type === "wallcast:height" && typeof d.height === "number" && d.height > 0) {
        frame.style.height = Math.min(Math.ceil(d.height), 20000) + "px";
        frame.dataset.wallcastHeight = String(Math.ceil(d.height));
      }
    });
    script.parentNode.insertBefore(frame, script.nextSibling);
  });
})();
