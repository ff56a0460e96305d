// Showing an answer's numbers: a bar per digit, the 28x28 image the model saw, percentages.

export function buildBars(list) {
  for (let digit = 0; digit < 10; digit++) {
    const li = document.createElement("li");
    li.innerHTML = `<span class="digit">${digit}</span><span class="track"><span class="fill"></span></span>` +
      `<span class="pct">0%</span>`;
    list.append(li);
  }
}

export function showBars(list, probabilities) {
  const best = probabilities.length ? probabilities.indexOf(Math.max(...probabilities)) : -1;
  [...list.children].forEach((li, digit) => {
    const p = probabilities[digit] || 0;
    li.classList.toggle("best", digit === best);
    li.querySelector(".fill").style.width = `${(p * 100).toFixed(1)}%`;
    li.querySelector(".pct").textContent = percent(p);
  });
}

export function showPreview(canvas, rows) {
  const c = canvas.getContext("2d");
  const image = c.createImageData(28, 28);
  (rows || []).flat().forEach((v, i) => image.data.set([v, v, v, 255], i * 4));
  if (!rows) for (let i = 3; i < image.data.length; i += 4) image.data[i] = 255;
  c.putImageData(image, 0, 0);
}

export function secondBest(probabilities) {
  const order = probabilities.map((p, digit) => ({ p, digit })).sort((a, b) => b.p - a.p);
  return order[1] && order[1].p >= 0.01 ? order[1] : null;
}

// 0.4% and 7.5% keep a decimal (small alternatives matter); 24% and 99% do not.
export function percent(p) {
  if (p > 0 && p < 0.0005) return "<0.1%";
  return p < 0.0995 ? `${(p * 100).toFixed(1)}%` : `${Math.round(p * 100)}%`;
}
