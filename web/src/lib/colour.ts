/**
 * A tenant's theme colour made readable: white text on it (primary buttons) and it as text on
 * white (links) need a contrast of 4.5:1 (WCAG AA). A colour too light is darkened, keeping its hue,
 * until it has that contrast.
 */
export function readableOnWhite(hex: string): string {
  const match = /^#([0-9a-f]{6})$/i.exec(hex);
  if (!match) return hex;
  let [r, g, b] = [0, 2, 4].map((i) => parseInt(match[1].slice(i, i + 2), 16));
  for (let step = 0; step < 40 && contrastWithWhite(r, g, b) < 4.5; step++) {
    [r, g, b] = [r, g, b].map((c) => Math.floor(c * 0.93));
  }
  return `#${[r, g, b].map((c) => c.toString(16).padStart(2, '0')).join('')}`;
}

function contrastWithWhite(r: number, g: number, b: number): number {
  const channel = (c: number) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  const luminance = 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  return 1.05 / (luminance + 0.05);
}
