/** `npm run bench -- <bench> [options]` runs bench/<bench>.ts (a dashed name such as digital-vs-real runs bench/digitalVsReal.ts). */
const BENCHES = ['quality', 'digital-vs-real', 'live', 'gpu-check'];
const requested = process.argv[2];
if (!requested || !BENCHES.includes(requested)) {
  console.error(`usage: npm run bench -- <${BENCHES.join('|')}> [options]`);
  process.exit(2);
}
await import(`./${requested.replace(/-(\w)/g, (_, letter: string) => letter.toUpperCase())}.ts`);
export {};
