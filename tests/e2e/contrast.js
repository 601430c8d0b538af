// WCAG contrast of every visible text in the page: its colour (SVG: fill) against the first
// opaque background behind it. Returns how many texts were checked and those under 4.5:1.
() => {
  const rgba = (text) => (text.match(/[\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const c = [r, g, b].map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  const background = (el) => {
    for (let node = el; node && node.nodeType === 1; node = node.parentElement) {
      const bg = rgba(getComputedStyle(node).backgroundColor);
      if (bg.length === 4 ? bg[3] > 0 : bg.length === 3) return bg;
    }
    return [255, 255, 255];
  };
  const failures = [];
  let checked = 0;
  for (const el of document.querySelectorAll('body *')) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own || el.closest('[hidden], title, option, datalist, noscript') || el.disabled) continue;
    const box = el.getBoundingClientRect();
    if (!box.width || !box.height || el.classList.contains('skip')) continue;
    const style = getComputedStyle(el);
    const ink = rgba(el instanceof SVGElement ? style.fill : style.color);
    const [a, b] = [lum(ink), lum(background(el))].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    checked += 1;
    if (ratio < 4.5) failures.push(`${el.tagName}.${el.className.baseVal ?? el.className} "${el.textContent.trim().slice(0, 30)}" ${ratio.toFixed(2)}`);
  }
  return { checked, failures };
}
