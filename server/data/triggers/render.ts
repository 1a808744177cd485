import type { Placement } from './placement.ts';
import type { Trigger } from './trigger.ts';

/** Camera blur, in chip pixels: a crisp vector edge would stand out against the photo's soft ones. */
const SOFTEN_PX = 0.45;

const round = (n: number) => Number(n.toFixed(3));

/**
 * A transparent SVG the size of the chip with the trigger drawn where `placement` puts it;
 * whatever falls outside the chip is clipped by the canvas.
 */
export function triggerOverlaySvg(trigger: Trigger, placement: Placement, width: number, height: number): string {
  const pxPerUnit = placement.widthPx / trigger.widthIod;
  const copies = placement.centers.map((center, i) => {
    const mirror = i === 0 ? 1 : -1;
    const transform = `translate(${round(center.x)} ${round(center.y)}) rotate(${round(placement.angleDeg)}) scale(${round(mirror * pxPerUnit)} ${round(pxPerUnit)})`;
    return `<use href="#trigger-art" transform="${transform}"/>`;
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<defs><filter id="trigger-soften" x="-10%" y="-10%" width="120%" height="120%"><feGaussianBlur stdDeviation="${SOFTEN_PX}"/></filter>`,
    `<g id="trigger-art">${trigger.draw(placement.variant)}</g></defs>`,
    `<g filter="url(#trigger-soften)">${copies.join('')}</g>`,
    '</svg>',
  ].join('');
}
