// Both renderings: a table wider than the screen scrolls sideways inside its box. That box then takes the keyboard's
// focus (tabindex="0") and a name, so that a keyboard user can scroll it too, and a visible hint; a box that does not
// scroll stays out of the tab order.
(function () {
  'use strict';
  function mark() {
    var boxes = document.querySelectorAll('.fr-table__container, .app-table-wrap');
    for (var i = 0; i < boxes.length; i++) {
      var box = boxes[i];
      if (box.scrollWidth > box.clientWidth + 1) {
        if (!box.hasAttribute('tabindex')) {
          box.setAttribute('tabindex', '0');
          box.setAttribute('role', 'region');
          var caption = box.querySelector('caption');
          var name = caption ? caption.textContent.replace(/\s+/g, ' ').trim() : '';
          box.setAttribute('aria-label', name ? 'Tableau défilant : ' + name : 'Zone défilante');
          box.setAttribute('data-app-scroll', '');
          // a visible hint: on a phone, the columns beyond the edge are easy to miss
          var hint = document.createElement('p');
          hint.className = 'app-scroll-hint';
          hint.setAttribute('aria-hidden', 'true');
          hint.textContent = 'Faites défiler le tableau vers la droite →';
          // before the whole DSFR table (its caption is placed over the top of the component), else before the box
          var anchor = box.closest('.fr-table') || box;
          hint.id = 'app-hint-' + i;
          box.setAttribute('data-app-hint', hint.id);
          anchor.parentNode.insertBefore(hint, anchor);
        }
      } else if (box.hasAttribute('data-app-scroll')) {
        box.removeAttribute('tabindex');
        box.removeAttribute('role');
        box.removeAttribute('aria-label');
        box.removeAttribute('data-app-scroll');
        var hintOf = document.getElementById(box.getAttribute('data-app-hint') || '');
        if (hintOf) hintOf.parentNode.removeChild(hintOf);
        box.removeAttribute('data-app-hint');
      }
    }
  }
  var timer = null;
  window.addEventListener('resize', function () {
    clearTimeout(timer);
    timer = setTimeout(mark, 100);
  });
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', mark);
  else mark();
})();
