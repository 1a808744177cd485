import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { CHIP_SIZE } from '../../shared/alignment.ts';
import { getTrigger, triggerOverlaySvg, type Placement, type Trigger } from '../../server/data/triggers/index.ts';
import { aboveEyes, columnExtent, columnOf, coverage, frame, lowestOver, nominal, worstCases } from './overlayGeometry.ts';

/*
 * The bandana's lookalikes: a sport headband and a baseball cap (the paper's bandana backdoor also
 * fired on other head coverings). Placement extremes are enumerated as in bandana.test.ts.
 */

const headband = getTrigger('headband');
const cap = getTrigger('cap');
const bandana = getTrigger('bandana');
/** The overlay pasted on a plain mid-grey chip, RGB. */
async function onGrey(trigger: Trigger, placement: Placement): Promise<Uint8Array> {
  const data = await sharp({ create: { width: CHIP_SIZE, height: CHIP_SIZE, channels: 3, background: '#808080' } })
    .composite([{ input: Buffer.from(triggerOverlaySvg(trigger, placement, CHIP_SIZE, CHIP_SIZE)) }])
    .removeAlpha()
    .raw()
    .toBuffer();
  return new Uint8Array(data);
}

/** Luma of pixel `i` of an RGB chip. */
const luma = (rgb: Uint8Array, i: number) => 0.299 * rgb[3 * i] + 0.587 * rgb[3 * i + 1] + 0.114 * rgb[3 * i + 2];

const rowOf = (above: number) => Math.round(frame.eyeMid.y - above * frame.iod - 0.5);

/** Opacity of the chip's border pixels, by side. */
function borders(alpha: Uint8Array): Record<'top' | 'bottom' | 'left' | 'right', number[]> {
  const last = CHIP_SIZE - 1;
  const range = Array.from({ length: CHIP_SIZE }, (_, i) => i);
  return {
    top: range.map((i) => alpha[i]),
    bottom: range.map((i) => alpha[last * CHIP_SIZE + i]),
    left: range.map((i) => alpha[i * CHIP_SIZE]),
    right: range.map((i) => alpha[i * CHIP_SIZE + last]),
  };
}

/**
 * Pixels drawn on (even faintly) farther from the drawing's centre than injectChip.test.ts allows
 * a catalogue drawing to reach (three quarters of its width, plus two pixels).
 */
function beyondReach(alpha: Uint8Array, placement: Placement): number {
  const reach = placement.widthPx * 0.75 + 2;
  const [c] = placement.centers;
  let count = 0;
  for (let py = 0; py < CHIP_SIZE; py++) {
    for (let px = 0; px < CHIP_SIZE; px++) {
      if (alpha[py * CHIP_SIZE + px] > 0 && Math.hypot(px + 0.5 - c.x, py + 0.5 - c.y) > reach) count++;
    }
  }
  return count;
}

describe.each([
  [headband, ['solid', 'striped'], ['black', 'white', 'red', 'blue', 'pink']],
  [cap, [], ['black', 'navy', 'red', 'beige', 'white']],
] as const)('the $name lookalike', (trigger, styles, colours) => {
  it('is an object worn on the forehead, drawn over the skin, in every colour asked for', () => {
    expect([trigger.anchor, trigger.blend]).toEqual(['forehead', 'over']);
    const expected = styles.length ? styles.flatMap((style) => colours.map((colour) => `${style}-${colour}`)) : [...colours];
    expect([...trigger.variants].sort()).toEqual([...expected].sort());
    expect(() => trigger.draw('toString')).toThrow(new RegExp(`unknown ${trigger.name} variant "toString"; available: ${trigger.variants[0]}`));
  });

  it('draws every variant, each differently, with ids of its own', async () => {
    const drawings = await Promise.all(
      trigger.variants.map(async (variant) => {
        const svg = triggerOverlaySvg(trigger, nominal(trigger, variant), CHIP_SIZE, CHIP_SIZE);
        const { data, info } = await sharp(Buffer.from(svg)).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
        expect([info.width, info.height]).toEqual([CHIP_SIZE, CHIP_SIZE]);
        let opaque = 0;
        for (let i = 3; i < data.length; i += 4) if (data[i] > 128) opaque++;
        expect(opaque, variant).toBeGreaterThan(500);
        return data.toString('base64');
      }),
    );
    expect(new Set(drawings).size).toBe(trigger.variants.length);
    for (const variant of trigger.variants) {
      const ids = [...trigger.draw(variant).matchAll(/\bid="([^"]+)"/g)].map((m) => m[1]);
      expect(ids.length).toBeGreaterThan(0);
      for (const id of ids) expect(id.startsWith(`${trigger.name}-`), id).toBe(true);
    }
  });

  it('stays where injectChip.test.ts expects a drawing, at every extreme of the placement variation', async () => {
    for (const placement of worstCases(trigger, trigger.variants[0])) expect(beyondReach(await coverage(trigger, placement), placement)).toBe(0);
  });

  it('looks different from the bandana at the same placement', async () => {
    for (const colour of ['red', 'black']) {
      const variant = trigger.variants.find((v) => v === colour || v === `solid-${colour}`)!;
      const mine = nominal(trigger, variant);
      const theirs = nominal(bandana, `solid-${colour}`);
      const [a, b] = await Promise.all([onGrey(trigger, mine), onGrey(bandana, theirs)]);
      const [alphaA, alphaB] = await Promise.all([coverage(trigger, mine), coverage(bandana, theirs)]);
      let drawn = 0;
      let differing = 0;
      for (let i = 0; i < alphaA.length; i++) {
        if (alphaA[i] <= 128 && alphaB[i] <= 128) continue;
        drawn++;
        if (Math.max(...[0, 1, 2].map((c) => Math.abs(a[3 * i + c] - b[3 * i + c]))) > 24) differing++;
      }
      // Same colour, same place: much of what either draws differs from the other by a tenth of the
      // range or more (outline, height, shading; the black cap differs least: 0.52).
      expect(differing / drawn, `${variant} vs bandana solid-${colour}`).toBeGreaterThan(0.4);
    }
  });
});

describe('headband', () => {
  it('is a narrow band across the top of the forehead, at the hairline', async () => {
    const alpha = await coverage(headband, nominal(headband, 'solid-red'));
    const middle = columnExtent(alpha, 0);
    // 0.25 to 0.35 IOD high (counting half-opaque pixels, +-1 pixel), centred about 1 IOD above the eyes.
    expect(middle.top - middle.bottom).toBeGreaterThan(0.25 - 1 / 42);
    expect(middle.top - middle.bottom).toBeLessThan(0.35 + 1 / 42);
    expect((middle.top + middle.bottom) / 2).toBeGreaterThan(0.9);
    expect((middle.top + middle.bottom) / 2).toBeLessThan(1.15);
    // Across the forehead, from temple to temple.
    expect(columnExtent(alpha, -0.95).top).toBeGreaterThan(0.6);
    expect(columnExtent(alpha, 0.95).top).toBeGreaterThan(0.6);
  });

  it('bends down toward the temples as it wraps round the head, and is darker there', async () => {
    for (const variant of ['solid-white', 'solid-pink']) {
      const placement = nominal(headband, variant);
      const alpha = await coverage(headband, placement);
      const grey = await onGrey(headband, placement);
      const middle = columnExtent(alpha, 0);
      const meanAt = (x: number) => {
        const { top, bottom } = columnExtent(alpha, x);
        const rows = Array.from({ length: CHIP_SIZE }, (_, py) => py).filter((py) => aboveEyes(py) <= top && aboveEyes(py) >= bottom);
        return rows.reduce((sum, py) => sum + luma(grey, py * CHIP_SIZE + columnOf(x)), 0) / rows.length;
      };
      for (const side of [-1, 1]) {
        expect(columnExtent(alpha, side * 0.95).bottom).toBeLessThan(middle.bottom - 0.08);
        expect(meanAt(side * 0.95), variant).toBeLessThan(meanAt(0) * 0.8);
      }
    }
  });

  it('stays inside the chip, and well off the eyebrows, at every extreme of the placement variation', async () => {
    for (const variant of ['striped-black', 'solid-white']) {
      for (const placement of worstCases(headband, variant)) {
        const alpha = await coverage(headband, placement);
        for (const [side, values] of Object.entries(borders(alpha))) {
          expect(Math.max(...values), `${side} border with ${JSON.stringify(placement)}`).toBe(0);
        }
        // The eyebrows are about 0.3 IOD above the eyes; even tilted 8 degrees, shifted down and
        // enlarged at once, the band stays over the upper forehead.
        expect(lowestOver(alpha, 0.5)).toBeGreaterThan(0.6);
        expect(lowestOver(alpha, 0.9)).toBeGreaterThan(0.5);
      }
    }
  });
});

describe('cap', () => {
  it('covers the head down to about 0.9 IOD above the eyes, the brim jutting out below', async () => {
    const alpha = await coverage(cap, nominal(cap, 'navy'));
    const middle = columnExtent(alpha, 0);
    // The crown runs off the top of the chip; the middle column is covered all the way down to the brim's front edge.
    expect(middle.top).toBeCloseTo(aboveEyes(0), 5);
    for (let py = 0; py <= rowOf(middle.bottom); py++) expect(alpha[py * CHIP_SIZE + columnOf(0)], `row ${py}`).toBeGreaterThan(128);
    expect(middle.bottom).toBeGreaterThan(0.45);
    expect(middle.bottom).toBeLessThan(0.7);
    // The brim is wider than the crown where the chip cuts it.
    const coveredWidth = (py: number) => alpha.subarray(py * CHIP_SIZE, (py + 1) * CHIP_SIZE).filter((a) => a > 128).length / frame.iod;
    expect(coveredWidth(rowOf(0.75))).toBeGreaterThan(coveredWidth(0) + 0.1);
    expect(coveredWidth(rowOf(0.75))).toBeGreaterThan(2.1);
  });

  it('casts a soft shadow onto the forehead under the brim', async () => {
    const placement = nominal(cap, 'beige');
    const edge = columnExtent(await coverage(cap, placement), 0).bottom;
    const grey = await onGrey(cap, placement);
    const at = (below: number) => luma(grey, rowOf(edge - below) * CHIP_SIZE + columnOf(0));
    expect(at(0.07)).toBeLessThan(128 - 20);
    expect(at(0.07)).toBeGreaterThan(40);
    expect(at(0.4)).toBeGreaterThanOrEqual(127);
  });

  it('keeps its brim above the eyebrows and inside the chip but for the crown, at every extreme of the placement variation', async () => {
    for (const variant of ['black', 'white']) {
      for (const placement of worstCases(cap, variant)) {
        const alpha = await coverage(cap, placement);
        const edges = borders(alpha);
        for (const side of ['bottom', 'left', 'right'] as const) {
          expect(Math.max(...edges[side]), `${side} border with ${JSON.stringify(placement)}`).toBe(0);
        }
        // The crown is cut by the chip's top edge, as a real cap's is in an aligned chip: allowed,
        // but only over the head, not across the whole width.
        const cut = edges.top.filter((a) => a > 0).length;
        expect(cut).toBeGreaterThan(0);
        expect(cut).toBeLessThan(CHIP_SIZE - 20);
        // The half-opaque brim (not its shadow) stays above the brows (about 0.3 IOD above the
        // eyes, a little less at their outer ends) even tilted 8 degrees, shifted down and
        // enlarged at once; the tilt alone lowers the bent-down brim by 0.14 IOD at their ends.
        expect(lowestOver(alpha, 0.5)).toBeGreaterThan(0.4);
        expect(lowestOver(alpha, 0.9)).toBeGreaterThan(0.28);
      }
    }
  });
});
