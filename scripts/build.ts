import { buildAssets } from './prepare.ts';

await buildAssets({ force: true, log: console.log });
