// loupe: "/" focuses the search box (unless typing somewhere already).
document.addEventListener("keydown", (event) => {
  if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.target;
  if (target instanceof HTMLElement &&
      (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
  const box = document.querySelector('form.search input[name="id"]');
  if (!box) return;
  event.preventDefault();
  box.focus();
  box.select();
});
