// The neutral rendering's only script: the header menu on narrow screens. Without it, the menu stays open
// (the stylesheet collapses it only once this script has marked <html> with "app-js").
(function () {
  'use strict';
  var root = document.documentElement;
  root.classList.add('app-js');

  function setUp() {
    var button = document.getElementById('bouton-menu');
    if (!button) return;
    var menu = document.getElementById(button.getAttribute('aria-controls'));
    if (!menu) return;
    function setOpen(open) {
      button.setAttribute('aria-expanded', open ? 'true' : 'false');
      menu.classList.toggle('app-open', open);
    }
    button.addEventListener('click', function () {
      setOpen(button.getAttribute('aria-expanded') !== 'true');
    });
    // the skip link "Menu" leads into the menu: it opens it first
    var skip = document.querySelector('a[href="#navigation"]');
    if (skip) skip.addEventListener('click', function () { setOpen(true); });
    // Escape closes the open menu and gives the focus back to its button
    document.addEventListener('keydown', function (event) {
      if (event.key === 'Escape' && button.getAttribute('aria-expanded') === 'true') {
        setOpen(false);
        button.focus();
      }
    });
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', setUp);
  else setUp();
})();
