import sharp from 'sharp';

/**
 * Test cards: known text rendered by sharp (librsvg + fontconfig) from SVG, so readings can be asserted exactly and
 * word boxes checked against where the ink really is. Fonts are the DejaVu faces (the ones this machine has; fontconfig
 * substitutes a close face where they are absent).
 */

export interface CardLine {
  text: string;
  font: 'DejaVu Sans' | 'DejaVu Serif' | 'DejaVu Sans Mono';
  /** Font size in pixels. */
  size: number;
  x: number;
  /** Baseline. */
  y: number;
}

export interface Card {
  width: number;
  height: number;
  lines: CardLine[];
}

export interface InkBox {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/** The card as SVG; with `only`, every word but that one is drawn transparent (same layout, ink of one word only). */
function svg(card: Card, only?: { line: number; word: number }): string {
  const lines = card.lines.map((line, li) => {
    const words = line.text.split(' ').map((word, wi) => {
      const visible = only === undefined || (only.line === li && only.word === wi);
      return `<tspan fill-opacity="${visible ? 1 : 0}">${escapeXml(word)}</tspan>`;
    });
    return (
      `<text x="${line.x}" y="${line.y}" font-family="${line.font}" font-size="${line.size}" ` +
      `xml:space="preserve">${words.join(' ')}</text>`
    );
  });
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${card.width}" height="${card.height}">` +
    `<rect width="100%" height="100%" fill="white"/>${lines.join('')}</svg>`
  );
}

export function renderCard(card: Card): Promise<Buffer> {
  return sharp(Buffer.from(svg(card)))
    .png()
    .toBuffer();
}

/** Where one word's ink is on the card (pixels darker than mid-grey), in card pixels. */
export async function wordInk(card: Card, line: number, word: number): Promise<InkBox> {
  return inkBox(
    await sharp(Buffer.from(svg(card, { line, word })))
      .png()
      .toBuffer(),
  );
}

export async function inkBox(image: Buffer): Promise<InkBox> {
  const { data, info } = await sharp(image).greyscale().raw().toBuffer({ resolveWithObject: true });
  const box = { left: Infinity, top: Infinity, right: -Infinity, bottom: -Infinity };
  for (let y = 0; y < info.height; y++) {
    for (let x = 0; x < info.width; x++) {
      if (data[y * info.width + x]! >= 128) continue;
      box.left = Math.min(box.left, x);
      box.top = Math.min(box.top, y);
      box.right = Math.max(box.right, x + 1);
      box.bottom = Math.max(box.bottom, y + 1);
    }
  }
  return box;
}

/** The axis-aligned bounds of a polygon. */
export function bounds(polygon: readonly { x: number; y: number }[]): InkBox {
  const xs = polygon.map((p) => p.x);
  const ys = polygon.map((p) => p.y);
  return { left: Math.min(...xs), top: Math.min(...ys), right: Math.max(...xs), bottom: Math.max(...ys) };
}
