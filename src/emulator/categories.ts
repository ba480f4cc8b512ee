/**
 * Coarse categories of the 1000 ImageNet classes, by index range (the classes are ordered by WordNet subtree). They give
 * Baidu's `root`, Rekognition's parent labels, and Face++'s scenes. English names; the real Baidu answers in Chinese.
 */

interface Range {
  from: number;
  to: number;
  /** Rekognition-style label of the group, e.g. "Dog". */
  group: string;
  /** Top-level parent, e.g. "Animal". */
  parent: string;
}

const RANGES: Range[] = [
  { from: 0, to: 6, group: 'Fish', parent: 'Animal' },
  { from: 7, to: 24, group: 'Bird', parent: 'Animal' },
  { from: 25, to: 32, group: 'Amphibian', parent: 'Animal' },
  { from: 33, to: 68, group: 'Reptile', parent: 'Animal' },
  { from: 69, to: 79, group: 'Invertebrate', parent: 'Animal' },
  { from: 80, to: 100, group: 'Bird', parent: 'Animal' },
  { from: 101, to: 106, group: 'Mammal', parent: 'Animal' },
  { from: 107, to: 126, group: 'Invertebrate', parent: 'Animal' },
  { from: 127, to: 146, group: 'Bird', parent: 'Animal' },
  { from: 147, to: 150, group: 'Mammal', parent: 'Animal' },
  { from: 151, to: 268, group: 'Dog', parent: 'Animal' },
  { from: 269, to: 280, group: 'Mammal', parent: 'Animal' },
  { from: 281, to: 285, group: 'Cat', parent: 'Animal' },
  { from: 286, to: 299, group: 'Mammal', parent: 'Animal' },
  { from: 300, to: 326, group: 'Insect', parent: 'Animal' },
  { from: 327, to: 329, group: 'Invertebrate', parent: 'Animal' },
  { from: 330, to: 388, group: 'Mammal', parent: 'Animal' },
  { from: 389, to: 397, group: 'Fish', parent: 'Animal' },
  { from: 398, to: 923, group: 'Object', parent: 'Object' },
  { from: 924, to: 969, group: 'Food', parent: 'Food' },
  { from: 970, to: 980, group: 'Landscape', parent: 'Scene' },
  { from: 981, to: 983, group: 'Person', parent: 'Person' },
  { from: 984, to: 999, group: 'Plant', parent: 'Plant' },
];

export interface Category {
  group: string;
  parent: string;
}

export function categoryOf(index: number): Category {
  const range = RANGES.find((r) => index >= r.from && index <= r.to);
  return range ? { group: range.group, parent: range.parent } : { group: 'Object', parent: 'Object' };
}

/** Baidu's `root` is "coarse-fine" (e.g. 动物-狗); here "Animal-Dog", "Object-Object" collapsed to "Object". */
export function baiduRoot(index: number): string {
  const { group, parent } = categoryOf(index);
  return group === parent ? parent : `${parent}-${group}`;
}

/** The ImageNet classes that are places, used as Face++ scenes (alp, cliff, coral reef, lakeside, seashore, ...). */
export const isSceneClass = (index: number): boolean => index >= 970 && index <= 980;

/** "Yorkshire terrier" -> "Yorkshire Terrier", "hot dog" -> "Hot Dog": Rekognition names are title case. */
export const titleCase = (name: string): string =>
  name.replace(/(^|[\s-])([a-z])/g, (_, sep: string, c: string) => sep + c.toUpperCase());
