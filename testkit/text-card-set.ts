import sharp from 'sharp';
import type { Card, CardLine } from './text-cards.ts';

/**
 * A fixed set of rendered text cards for the text operations' curve and tests: known strings in the DejaVu faces at
 * the sizes documents, receipts, labels and signs have, each card sized like such an upload, so that shrinking it
 * (the proxy's resolution action, then the service's working resolution) loses small print before large. The images
 * are RGB PNGs (no alpha), as a screenshot or scan is uploaded.
 */

export interface NamedCard {
  name: string;
  card: Card;
  /** Dark text on light (default) or light text on this colour. */
  background?: string;
}

const PHRASES = [
  'Platform 4 trains to the airport',
  'Please keep your ticket until the end of the journey',
  'Opening hours Monday to Friday 9:00 to 17:30',
  'Total due 42.50 EUR including VAT',
  'Fresh bread and milk every morning',
  'No parking in front of the gate',
  'Room 214 is on the second floor',
  'Invoice No. 2024-117 dated 12 March',
  'Keep this door closed at all times',
  'Lost property office next to gate B',
  'Order number 58213 ready for collection',
  'Emergency exit keep clear',
  'Sale ends Sunday 30 June',
  'Visitors must sign in at reception',
  'Do not leave bags unattended',
  'Cash and cards accepted here',
];

/** `count` lines of one face and size, from the phrase list starting at `from`, one every 1.6 em. */
function lines(font: CardLine['font'], size: number, count: number, from: number, x: number, top: number): CardLine[] {
  return Array.from({ length: count }, (_, i) => ({
    text: PHRASES[(from + i) % PHRASES.length]!,
    font,
    size,
    x,
    y: Math.round(top + size + i * size * 1.6),
  }));
}

export const TEXT_CARDS: readonly NamedCard[] = [
  {
    name: 'sign',
    card: {
      width: 1600,
      height: 800,
      lines: [
        { text: 'PLATFORM 4', font: 'DejaVu Sans', size: 140, x: 90, y: 300 },
        { text: 'Trains to the airport', font: 'DejaVu Sans', size: 90, x: 90, y: 560 },
      ],
    },
  },
  { name: 'notice', card: { width: 1300, height: 700, lines: lines('DejaVu Serif', 34, 7, 1, 50, 40) } },
  { name: 'receipt', card: { width: 760, height: 1000, lines: lines('DejaVu Sans Mono', 18, 20, 3, 30, 20) } },
  { name: 'page', card: { width: 1240, height: 1754, lines: lines('DejaVu Serif', 24, 36, 5, 80, 80) } },
  {
    name: 'label',
    card: {
      width: 800,
      height: 420,
      lines: [
        { text: 'Organic Whole Milk', font: 'DejaVu Sans', size: 40, x: 30, y: 70 },
        { text: 'Best before 14 July', font: 'DejaVu Sans', size: 24, x: 30, y: 140 },
        { text: 'Keep refrigerated below 5 C', font: 'DejaVu Serif', size: 22, x: 30, y: 200 },
        { text: 'Batch L2417 net 1 litre', font: 'DejaVu Sans Mono', size: 20, x: 30, y: 260 },
        { text: 'Price 1.29', font: 'DejaVu Sans', size: 34, x: 30, y: 340 },
      ],
    },
  },
  {
    name: 'dark-banner',
    background: '#1f3a68',
    card: { width: 1400, height: 600, lines: lines('DejaVu Sans', 46, 5, 9, 60, 40) },
  },
];

const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/** The card as an RGB PNG (no alpha channel: the proxy may then send it as JPEG). */
export function renderNamedCard({ card, background }: NamedCard): Promise<Buffer> {
  const ink = background ? '#ffffff' : '#000000';
  const text = card.lines
    .map(
      (l) =>
        `<text x="${l.x}" y="${l.y}" font-family="${l.font}" font-size="${l.size}" fill="${ink}" xml:space="preserve">${escapeXml(l.text)}</text>`,
    )
    .join('');
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${card.width}" height="${card.height}">` +
    `<rect width="100%" height="100%" fill="${background ?? '#ffffff'}"/>${text}</svg>`;
  return sharp(Buffer.from(svg)).removeAlpha().png().toBuffer();
}

/** The text a card carries, line by line (what an exact reading gives). */
export const cardText = ({ card }: NamedCard): string => card.lines.map((l) => l.text).join('\n');
