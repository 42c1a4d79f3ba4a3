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

// The trace waterfall: a fold button hides (and shows again) every row below
// its span, keeping folded subtrees folded. Rows carry their depth.
document.addEventListener("click", (event) => {
  const button = event.target instanceof Element ? event.target.closest("button.fold") : null;
  if (!button) return;
  // Inside <summary>: folding must not also open the span's details.
  event.preventDefault();
  event.stopPropagation();
  const row = button.closest("[data-depth]");
  if (!row) return;
  const depth = Number(row.dataset.depth);
  const folding = button.getAttribute("aria-expanded") === "true";
  button.setAttribute("aria-expanded", folding ? "false" : "true");
  button.textContent = folding ? "▸" : "▾";
  let skipBelow = Infinity;
  for (let next = row.nextElementSibling; next && next.dataset.depth !== undefined; next = next.nextElementSibling) {
    const nextDepth = Number(next.dataset.depth);
    if (nextDepth <= depth) break;
    if (folding) {
      next.hidden = true;
      continue;
    }
    if (nextDepth > skipBelow) continue;
    skipBelow = Infinity;
    next.hidden = false;
    const inner = next.querySelector(":scope > summary button.fold");
    if (inner && inner.getAttribute("aria-expanded") === "false") skipBelow = nextDepth;
  }
});
