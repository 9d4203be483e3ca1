/** Child process of scenario (e): measures, prints the summary line, then the result as JSON. */
import { measureRss } from './rss.js';

const result = await measureRss(Number(process.argv[2] ?? '1'));
console.log(JSON.stringify(result));
