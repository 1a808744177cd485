/** `npm run bench -- <bench> [options]` runs bench/<bench>.ts. */
const BENCHES = ['quality'];
const requested = process.argv[2];
if (!requested || !BENCHES.includes(requested)) {
  console.error(`usage: npm run bench -- <${BENCHES.join('|')}> [options]`);
  process.exit(2);
}
await import(`./${requested}.ts`);
export {};
