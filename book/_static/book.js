// Show the "scroll sideways" hint of a table only when its box does overflow (narrow screens, wide
// tables); the CSS shadows at the edges do the rest. Nothing here is needed to read the tables.
(function () {
  function mark() {
    document.querySelectorAll("figure.book-table").forEach(function (figure) {
      var box = figure.querySelector(".table-scroll");
      if (box) {
        figure.classList.toggle("has-scroll", box.scrollWidth > box.clientWidth + 1);
      }
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", mark);
  } else {
    mark();
  }
  window.addEventListener("resize", mark);
})();
