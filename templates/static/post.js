// The phone's form: a live character count, the photo made smaller in the
// browser before it is sent (the venue's Wi-Fi is shared), progress while
// it goes. Without this script the form still posts as a plain form.
(function () {
  "use strict";
  var body = document.body;
  var T = JSON.parse(body.dataset.strings || "{}");
  var accent = body.dataset.accent || "";
  if (/^#[0-9a-fA-F]{3,8}$/.test(accent)) document.documentElement.style.setProperty("--accent", accent);

  var form = document.getElementById("post");
  if (!form) return;
  var text = document.getElementById("text");
  var left = document.getElementById("left");
  var max = parseInt(text.dataset.max, 10) || 280;
  function count() { left.value = String(max - Array.from(text.value).length); }
  text.addEventListener("input", count);
  count();

  if (!window.fetch || !window.FormData || !window.createImageBitmap || !window.XMLHttpRequest) return;
  var maxSide = parseInt(body.dataset.maxPixels, 10) || 1600;
  var send = document.getElementById("send");
  var progress = document.getElementById("progress");
  var error = document.getElementById("error");

  function fail(msg) {
    error.textContent = msg;
    error.hidden = false;
    send.disabled = false;
    send.textContent = T.send;
    progress.hidden = true;
    error.scrollIntoView({ block: "center" });
  }

  // smaller resolves to a JPEG of the photo within maxSide pixels, or to
  // the file itself when the browser cannot draw it (the server decides).
  function smaller(file) {
    return createImageBitmap(file, { imageOrientation: "from-image" }).then(function (bmp) {
      var scale = Math.min(1, maxSide / Math.max(bmp.width, bmp.height));
      var canvas = document.createElement("canvas");
      canvas.width = Math.round(bmp.width * scale);
      canvas.height = Math.round(bmp.height * scale);
      var ctx = canvas.getContext("2d");
      ctx.fillStyle = "#fff";
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      ctx.drawImage(bmp, 0, 0, canvas.width, canvas.height);
      return new Promise(function (resolve) {
        canvas.toBlob(function (blob) { resolve(blob ? { blob: blob, name: "photo.jpg" } : { blob: file, name: file.name }); }, "image/jpeg", 0.9);
      });
    }).catch(function () { return { blob: file, name: file.name }; });
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    error.hidden = true;
    send.disabled = true;
    send.textContent = T.sending;
    var photo = document.getElementById("photo").files[0];
    var ready = photo ? smaller(photo) : Promise.resolve(null);
    ready.then(function (pic) {
      var data = new FormData();
      Array.prototype.forEach.call(form.elements, function (el) {
        if (!el.name || el.name === "photo") return;
        if (el.type === "checkbox" && !el.checked) return;
        data.append(el.name, el.value);
      });
      if (pic) data.append("photo", pic.blob, pic.name);
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("Accept", "application/json");
      progress.value = 0;
      progress.hidden = false;
      xhr.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable) progress.value = Math.round(100 * e.loaded / e.total);
      });
      xhr.addEventListener("load", function () {
        var answer = {};
        try { answer = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
        if (xhr.status === 202 && answer.delete_url) {
          var q = answer.delete_url.split("?")[1] || "";
          location.assign(form.action + "/sent?" + q);
          return;
        }
        fail(answer.error || T.err_busy);
      });
      xhr.addEventListener("error", function () { fail(T.err_busy); });
      xhr.send(data);
    });
  });
})();
